// Hostile input against a real control plane, on PostgreSQL and on the embedded store: a few
// thousand malformed or hostile requests, generated from a seeded PRNG (WEFT_HOSTILE_SEED replays
// a run), over a store seeded with valid apps and policies. Every answer must be a 4xx with a
// {"error": "..."} body (never a 5xx, a hang or a dropped connection), the server must keep
// serving throughout (health and a valid list are checked as the run goes), and the store must end
// exactly as it began: same policies, tags, apps and revision. Requests malformed below HTTP
// semantics are answered by Node's HTTP parser, without a JSON body; for those we require a 4xx
// status line (or, for CONNECT, a closed connection) and that the server keeps serving.
import { Agent } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appBodyCases, authCases, policyBodyCases } from "../../test/support/hostile-cases.js";
import { framingCases, stalledRequests } from "../../test/support/hostile-framing.js";
import { openStalled, rawExchange, send, type HostileRequest, type Target } from "../../test/support/hostile-http.js";
import { bigBodyCases, contentTypeCases, headCases, pathCases, queryCases, versionCases } from "../../test/support/hostile-routes.js";
import { tokenKit, type TokenKit } from "../../test/support/hostile-tokens.js";
import { policyJson, type PolicySpec } from "../../test/support/hostile-bodies.js";
import { makeWorld, type World } from "../../test/support/hostile-world.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { STORE_KINDS } from "../../test/support/db.js";
import { Prng } from "../../test/support/prng.js";

const SEED = Number(process.env.WEFT_HOSTILE_SEED ?? 0x5eed2026);
const DEADLINE_MS = 30_000;
const CONCURRENCY = 8;
const CHECK_EVERY = 150;

interface Snapshot {
  readonly revision: number;
  readonly policies: string[];
  readonly tags: unknown;
  readonly apps: unknown;
}

const policyKey = (p: PolicySpec) => JSON.stringify(policyJson(p, "v1"));

async function ok(t: TestControl, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await t.request(method, path, body === undefined ? {} : { body });
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
  return r.json;
}

async function seed(t: TestControl, world: World): Promise<void> {
  for (const a of world.apps) await ok(t, "PUT", `/weft/v1/apps/${a.guid}`, { name: a.name, space_guid: a.space, org_guid: a.org });
  for (let i = 0; i < world.policies.length; i += 25) {
    await ok(t, "POST", "/networking/v1/external/policies", { policies: world.policies.slice(i, i + 25).map((p) => policyJson(p, "v1")) });
  }
}

async function snapshot(t: TestControl): Promise<Snapshot> {
  const list = (await ok(t, "GET", "/networking/v1/external/policies")) as { policies: unknown[] };
  return {
    revision: await t.control.store.revision(),
    policies: list.policies.map((p) => JSON.stringify(p)).sort(),
    tags: await ok(t, "GET", "/networking/v1/external/tags"),
    apps: await ok(t, "GET", "/weft/v1/apps"),
  };
}

function isErrorBody(v: unknown): boolean {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  const error = (v as { error?: unknown }).error;
  return keys.length === 1 && typeof error === "string" && error.trim() !== "";
}

/** Why the answer to c is wrong, or undefined when it is right. */
async function judge(target: Target, c: HostileRequest): Promise<string | undefined> {
  let r;
  try {
    r = await send(target, c, DEADLINE_MS);
  } catch (err) {
    return `no answer: ${err instanceof Error ? err.message : String(err)}`;
  }
  const text = r.body.toString("utf8").slice(0, 300);
  if (r.status < 400 || r.status > 499) return `status ${r.status}: ${text}`;
  if (c.expect && !c.expect.includes(r.status)) return `status ${r.status}, expected ${c.expect.join(" or ")}: ${text}`;
  if (!String(r.headers["content-type"]).startsWith("application/json")) return `content-type ${r.headers["content-type"]}: ${text}`;
  if (c.method === "HEAD") return r.body.length === 0 ? undefined : `HEAD answer has a body: ${text}`;
  let json: unknown;
  try {
    json = JSON.parse(r.body.toString("utf8"));
  } catch {
    return `body is not JSON: ${text}`;
  }
  return isErrorBody(json) ? undefined : `body is not {"error": "<message>"}: ${text}`;
}

function allCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  return [
    ...policyBodyCases(world, kit, prng),
    ...appBodyCases(world, kit, prng),
    ...authCases(world, kit, prng),
    ...versionCases(world, kit, prng),
    ...pathCases(world, kit, prng),
    ...queryCases(world, kit, prng),
    ...contentTypeCases(world, kit, prng),
    ...bigBodyCases(world, kit, prng),
    ...headCases(kit),
  ];
}

function report(failures: string[]): string[] {
  return failures.length <= 40 ? failures : [...failures.slice(0, 40), `... and ${failures.length - 40} more`];
}

describe.each(STORE_KINDS)("hostile input, %s store", (kind) => {
  let t: TestControl;
  let agent: Agent;
  let target: Target;
  let world: World;
  let kit: TokenKit;
  let before: Snapshot;
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    t = await startTestControl(kind);
    const prng = new Prng(SEED);
    world = makeWorld(prng);
    await seed(t, world);
    kit = await tokenKit(t.dataDir, prng);
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    target = { host: "127.0.0.1", port: t.control.apiPort, ca: t.control.caCertPem, agent };
    before = await snapshot(t);
    expect(before.policies).toEqual(world.policies.map(policyKey).sort());
  });

  afterAll(async () => {
    for (const close of closers) close();
    agent?.destroy();
    await t?.stop();
  });

  /** Health and a valid list, as problems (empty when both are right). */
  async function serving(when: string, prng: Prng): Promise<string[]> {
    const problems: string[] = [];
    const health = await t.request("GET", "/health").catch((err: unknown) => ({ status: 0, text: String(err), json: undefined }));
    if (health.status !== 200 || (health.json as { healthy?: unknown } | undefined)?.healthy !== true) problems.push(`${when}: health ${health.status} ${health.text.slice(0, 200)}`);
    const app = prng.pick(world.apps).guid;
    const want = world.policies.filter((p) => p.source === app || p.destination === app).map(policyKey).sort();
    const list = await t.request("GET", `/networking/v1/external/policies?id=${app}`).catch((err: unknown) => ({ status: 0, text: String(err), json: undefined }));
    const got = ((list.json as { policies?: unknown[] } | undefined)?.policies ?? []).map((p) => JSON.stringify(p)).sort();
    if (list.status !== 200 || JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${when}: list for ${app} gave ${list.status} ${list.text.slice(0, 200)}`);
    return problems;
  }

  it("answers every hostile request with a 4xx JSON error, keeps serving, and leaves the store unchanged", { timeout: 300_000 }, async () => {
    const prng = new Prng(SEED + 1);
    const cases = allCases(world, kit, prng);
    expect(cases.length).toBeGreaterThanOrEqual(2000);
    // Slow or broken clients hold connections open for the whole run.
    for (const bytes of stalledRequests(kit)) closers.push(await openStalled(t.control.apiPort, t.control.caCertPem, bytes));

    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < cases.length; index = next++) {
        if (index % CHECK_EVERY === 0) failures.push(...(await serving(`before case ${index}`, prng)));
        const c = cases[index]!;
        const problem = await judge(target, c);
        if (problem) failures.push(`#${index} ${c.method} ${c.path.slice(0, 80)} [${c.name.slice(0, 100)}]: ${problem}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(report(failures), `seed ${SEED}, ${cases.length} cases`).toEqual([]);
    expect(await serving("at the end", prng)).toEqual([]);
    expect(await snapshot(t)).toEqual(before);
  });

  it("answers requests malformed at the HTTP layer with a 4xx or a close, and keeps serving", { timeout: 120_000 }, async () => {
    const failures: string[] = [];
    for (const c of framingCases(kit)) {
      try {
        const r = await rawExchange(t.control.apiPort, t.control.caCertPem, c.bytes, DEADLINE_MS);
        const fine = r.status === undefined ? c.mayClose === true : r.status >= 400 && r.status <= 499;
        if (!fine) failures.push(`${c.name}: ${r.status ?? "closed without an answer"} ${JSON.stringify(r.text.slice(0, 200))}`);
      } catch (err) {
        failures.push(`${c.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(await serving("after the framing cases", new Prng(SEED + 2))).toEqual([]);
    expect(await snapshot(t)).toEqual(before);
  });
});
