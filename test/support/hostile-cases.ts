// Hostile requests aimed at request bodies and authentication: every policy-body mutation from
// hostile-bodies.ts on create and delete (v1 and v0), big batches that are valid but for one
// policy, hostile app registrations, and every bad Authorization against every route. Each case
// would change the store if the server accepted it (valid parts use seeded apps and policies), so
// "store unchanged" after the run is meaningful.
import type { HostileRequest } from "./hostile-http.js";
import {
  badValueBodies,
  brokenJsonBodies,
  deepBodies,
  policyJson,
  spliced,
  wrongTypeBodies,
  type ApiVersion,
  type BodyCase,
} from "./hostile-bodies.js";
import type { TokenKit } from "./hostile-tokens.js";
import { newPolicy, seededPolicy, type World } from "./hostile-world.js";
import type { Prng } from "./prng.js";

export const JSON_TYPE = { "content-type": "application/json" } as const;
export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function post(name: string, path: string, token: string, text: string | Buffer, expect: number[] = [400]): HostileRequest {
  return { name, method: "POST", path, headers: { ...JSON_TYPE, ...bearer(token) }, body: Buffer.from(text), expect };
}

export function policyBodyCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const out: HostileRequest[] = [];
  for (const version of ["v1", "v0"] as const satisfies ApiVersion[]) {
    for (const op of ["create", "delete"] as const) {
      const path = `/networking/${version}/external/policies${op === "delete" ? "/delete" : ""}`;
      const single = version === "v0";
      const pick = () => (op === "create" ? newPolicy(world, prng, single) : seededPolicy(world, prng, single));
      const fresh = () => {
        const n = prng.range(1, 3);
        return { body: { policies: Array.from({ length: n }, () => policyJson(pick(), version)) }, i: prng.int(n) };
      };
      const add = (cases: BodyCase[]) => {
        for (const c of cases) out.push(post(`${op} ${version}: ${c.name}`, path, kit.admin, c.text));
      };
      let f = fresh();
      add(wrongTypeBodies(f.body, version, f.i));
      f = fresh();
      add(badValueBodies(f.body, version, f.i, prng));
      add(brokenJsonBodies(JSON.stringify(fresh().body), prng, 60));
      f = fresh();
      add(deepBodies(f.body, version));
      // A batch that is valid but for one policy must be refused whole.
      const d = version === "v1" ? ["destination", "ports", "start"] : ["destination", "port"];
      const flaws: [string[], string][] = [[["destination", "protocol"], '"icmp"'], [d, "0"], [["source", "id"], '""'], [["source", "tag"], '"0001"'], [d, '"1"']];
      for (const n of [2, 10, 1000]) {
        const body = { policies: Array.from({ length: n }, () => policyJson(pick(), version)) };
        const k = prng.int(n);
        const [field, raw] = prng.pick(flaws);
        add([{ name: `${n} policies, #${k} has ${field.join(".")}=${raw}`, text: spliced(body, ["policies", k, ...field], raw) }]);
      }
    }
  }
  return out;
}

export function appBodyCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const out: HostileRequest[] = [];
  const seeded = prng.pick(world.apps);
  const targets = [`hostile-app-${prng.string(8)}`, seeded.guid];
  const longs = ["x".repeat(256), prng.string(10_000), prng.string(1_000_000)];
  const controls = Array.from({ length: 6 }, () => String.fromCharCode(prng.pick([...Array(32).keys(), 127])));
  for (const guid of targets) {
    const path = `/weft/v1/apps/${guid}`;
    const base = { name: `hostile-name-${prng.string(4)}`, space_guid: seeded.space, org_guid: seeded.org };
    const cases: BodyCase[] = [];
    for (const field of ["name", "space_guid", "org_guid"]) {
      const raws = ["0", "-0", "1e309", "1.5", "true", "false", "[]", '["x"]', "{}", '{"name":"x"}', "null", '""'];
      raws.push(...longs.map((s) => JSON.stringify(s)), ...controls.map((c) => JSON.stringify(`a${c}b`)), '"x\\ud800"', '"\\udfffx"');
      for (const raw of raws) cases.push({ name: `${field}=${raw.slice(0, 24)}`, text: spliced(base, [field], raw) });
      cases.push({ name: `missing ${field}`, text: spliced(base, [field], undefined) });
      cases.push({ name: `deep arrays at ${field}`, text: spliced(base, [field], "[".repeat(100_000) + "]".repeat(100_000)) });
    }
    for (const raw of ["[]", '"x"', "1", "null", "true", `[${JSON.stringify(base)}]`]) cases.push({ name: `root ${raw.slice(0, 20)}`, text: raw });
    cases.push(...brokenJsonBodies(JSON.stringify(base), prng, 24));
    for (const c of cases) {
      out.push({ name: `PUT app ${guid === seeded.guid ? "seeded" : "new"}: ${c.name}`, method: "PUT", path, headers: { ...JSON_TYPE, ...bearer(kit.admin) }, body: Buffer.from(c.text), expect: [400] });
    }
  }
  return out;
}

interface Route {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
}

/** Requests that would succeed, or change the store, with the admin token. */
export function privilegedRoutes(world: World, prng: Prng): Route[] {
  const seededApp = prng.pick(world.apps);
  const single = newPolicy(world, prng, true);
  return [
    { name: "create v1", method: "POST", path: "/networking/v1/external/policies", body: { policies: [policyJson(newPolicy(world, prng), "v1")] } },
    { name: "create v0", method: "POST", path: "/networking/v0/external/policies", body: { policies: [policyJson(single, "v0")] } },
    { name: "delete v1", method: "POST", path: "/networking/v1/external/policies/delete", body: { policies: [policyJson(seededPolicy(world, prng), "v1")] } },
    { name: "list all", method: "GET", path: "/networking/v1/external/policies" },
    { name: "list one v0", method: "GET", path: `/networking/v0/external/policies?id=${seededApp.guid}` },
    { name: "cleanup", method: "POST", path: "/networking/v1/external/policies/cleanup" },
    { name: "tags", method: "GET", path: "/networking/v1/external/tags" },
    { name: "whoami", method: "GET", path: "/networking/v0/external/whoami" },
    { name: "register app", method: "PUT", path: `/weft/v1/apps/hostile-app-${prng.string(8)}`, body: { name: "n", space_guid: seededApp.space, org_guid: seededApp.org } },
    { name: "change app", method: "PUT", path: `/weft/v1/apps/${seededApp.guid}`, body: { name: "renamed", space_guid: "hostile-space", org_guid: seededApp.org } },
    { name: "delete app", method: "DELETE", path: `/weft/v1/apps/${seededApp.guid}` },
    { name: "list apps", method: "GET", path: "/weft/v1/apps" },
    { name: "get app", method: "GET", path: `/weft/v1/apps/${seededApp.guid}` },
  ];
}

function withAuth(r: Route, authorization: string | undefined, name: string, expect: readonly number[]): HostileRequest {
  const headers: Record<string, string> = r.body === undefined ? {} : { ...JSON_TYPE };
  if (authorization !== undefined) headers.authorization = authorization;
  return { name: `${r.name} with ${name}`, method: r.method, path: r.path, headers, ...(r.body === undefined ? {} : { body: Buffer.from(JSON.stringify(r.body)) }), expect };
}

export function authCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const routes = privilegedRoutes(world, prng);
  const out = routes.flatMap((r) => kit.bad.map((a) => withAuth(r, a.authorization, a.name, a.expect)));
  // A network.write user whose only space holds none of the seeded apps.
  const refusedForWriter: Record<string, number> = {
    "create v1": 403, "create v0": 403, "delete v1": 403, cleanup: 403, tags: 403, whoami: 403,
    "register app": 403, "change app": 403, "delete app": 404, "get app": 404,
  };
  for (const r of routes) {
    const status = refusedForWriter[r.name];
    if (status !== undefined) out.push(withAuth(r, `Bearer ${kit.write}`, "a foreign-space writer", [status]));
  }
  return out;
}
