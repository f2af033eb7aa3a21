// End to end, black box: policies between apps over the overlay, on one mesh of real processes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { createMesh, type App, type Instance, type Mesh } from "./support/mesh.js";
import { probe } from "../support/netns-probes.js";

describe.runIf(process.getuid?.() === 0)("e2e: overlay and policies", () => {
  let mesh: Mesh;
  let a: App;
  let b: App;
  let a1: Instance;
  let b1: Instance;
  let b2: Instance;

  beforeAll(async () => {
    mesh = await createMesh({ store: "postgres" });
    a = await mesh.registerApp("frontend");
    b = await mesh.registerApp("backend");
    a1 = await mesh.startInstance(mesh.cells[0]!, a);
    b1 = await mesh.startInstance(mesh.cells[0]!, b, 0);
    b2 = await mesh.startInstance(mesh.cells[1]!, b, 1);
  }, 180_000);
  afterAll(async () => {
    await mesh?.destroy();
  });

  it("smoke: no policy, no connection; a policy added with the CLI connects; removed, denied", async () => {
    for (const dst of [b1, b2]) expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toMatch(/^error:/);
    await mesh.cliOk(["policy", "add", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080", "--wait"]);
    for (const dst of [b1, b2]) expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toBe(`pong:${a1.ip}`);
    await mesh.cliOk(["policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080"]);
    for (const dst of [b1, b2]) {
      await eventually(async () => expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toMatch(/^error:/), { timeoutMs: 10_000 });
    }
  });
});
