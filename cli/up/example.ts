// The seed's example, deployed on an up-mesh through the API (the CLI's client): apps A, B and C,
// internal routes b.apps.internal and c.apps.internal, policies A->B and A->C on 8080 and 61443,
// and the containers, attached by weft-cni: A and one B on the first cell, the other B and C on
// the last, each running the small HTTP app on 8080 (and served on 61443 by the cell's sidecar).
import { randomUUID } from "node:crypto";
import { waitEnforced } from "../wait-enforced.js";
import type { Mesh, MeshContainer } from "./mesh.js";

export const EXAMPLE_SPACE = "space-demo";
export const EXAMPLE_ORG = "org-demo";

export interface Example {
  readonly guids: Record<"a" | "b" | "c", string>;
  readonly a: MeshContainer;
  readonly b: readonly [MeshContainer, MeshContainer];
  readonly c: MeshContainer;
}

export async function deployExample(mesh: Mesh, progress: (line: string) => void = () => undefined): Promise<Example> {
  const { client } = mesh;
  const guids = { a: randomUUID(), b: randomUUID(), c: randomUUID() };
  for (const [name, guid] of Object.entries(guids)) {
    await client.call("PUT", `/weft/v1/apps/${guid}`, { name, space_guid: EXAMPLE_SPACE, org_guid: EXAMPLE_ORG });
  }
  await client.call("PUT", "/weft/v1/routes/b.apps.internal", { app_guid: guids.b });
  await client.call("PUT", "/weft/v1/routes/c.apps.internal", { app_guid: guids.c });
  const policies = [guids.b, guids.c].flatMap((dst) =>
    [8080, 61443].map((port) => ({ source: { id: guids.a }, destination: { id: dst, protocol: "tcp", ports: { start: port, end: port } } })),
  );
  const res = await client.call("POST", "/networking/v1/external/policies", { policies });
  const revision = Number(res.headers["x-weft-revision"] ?? 0);
  if (revision > 0) await waitEnforced(client, revision, 30_000, () => undefined);
  progress("apps a, b, c; routes b.apps.internal, c.apps.internal; policies a->b, a->c on tcp 8080 and 61443");

  const first = mesh.cells[0]!;
  const last = mesh.cells[mesh.cells.length - 1]!;
  const spec = (app: "a" | "b" | "c", index: number) => ({ appGuid: guids[app], appName: app, spaceGuid: EXAMPLE_SPACE, orgGuid: EXAMPLE_ORG, index });
  const t0 = Date.now();
  const [a, b0, b1, c] = await Promise.all([
    mesh.attach(first, spec("a", 0)),
    mesh.attach(first, spec("b", 0)),
    mesh.attach(last, spec("b", 1)),
    mesh.attach(last, spec("c", 0)),
  ]);
  await Promise.all([a, b0, b1, c].map((x) => mesh.startHttpApp(x)));
  const where = [a, b0, b1, c].map((x) => `${x.spec.appName}/${x.spec.index} ${x.ip} on ${x.cell.id}`).join(", ");
  progress(`containers attached by weft-cni and serving 8080 in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${where}`);
  return { guids, a, b: [b0, b1], c };
}
