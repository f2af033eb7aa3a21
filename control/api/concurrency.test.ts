// Concurrency: 20 clients at once create and delete overlapping policies through the REST API.
// The workload is designed so the final state is deterministic: each client keeps some policies of
// its own, creates and then deletes transient ones (some touching other clients' apps), and all
// clients create the same shared policies and delete the same pre-seeded ones. At the end the
// policy set must be exactly the expected one, tags must be unique and held by exactly the apps in
// policies, and every committed change must have its own revision, consecutive in weft_changes.
// Runs on both stores.
import { describe, expect, it } from "vitest";
import type { HttpResult, TestControl } from "../../test/support/control.js";
import { STORE_KINDS } from "../../test/support/db.js";
import {
  V0,
  create,
  createOk,
  keys,
  list,
  pol,
  polV0,
  remove,
  revisionOf,
  tags,
  useControl,
  type PolicyV1,
} from "../../test/support/policy-api.js";

const CLIENTS = 20;
const ROUNDS = 6;
const SHARED = ["shared-0", "shared-1", "shared-2", "shared-3", "shared-4"];
const sh = (k: number) => SHARED[k % SHARED.length]!;
const keepApp = (i: number) => `client-${String(i % CLIENTS).padStart(2, "0")}-keep`;
const roundApp = (i: number, r: number) => `client-${String(i).padStart(2, "0")}-round-${r}`;
const tmpApp = (i: number, r: number) => `client-${String(i).padStart(2, "0")}-tmp-${r}`;
const DOOMED = SHARED.map((s, k) => pol(s, `doomed-${k}`, "tcp", 9000));
const NEVER = pol("never-src", "never-dst", "udp", 1);

/** Policies client i keeps from round r; every round brings a new app, so tags are claimed throughout. */
function kept(i: number, r: number): PolicyV1[] {
  return [pol(sh(i), keepApp(i), "tcp", 1000 + r), pol(keepApp(i), sh(i + 1), "udp", 2000 + r), pol(roundApp(i, r), keepApp(i), "tcp", 443)];
}

/** Policies every client creates (the same ones), in round r. */
function shared(r: number): PolicyV1[] {
  return [pol(sh(0), sh(1), "tcp", 8080), pol(sh(r), sh(r + 1), "udp", 3000)];
}

/**
 * Policies client i creates and then deletes in round r: a new app whose tag is claimed and then
 * freed, and one that touches the next client's kept app (whose tag must survive the delete).
 */
function transient(i: number, r: number): PolicyV1[] {
  return [pol(tmpApp(i, r), sh(i), "tcp", 4000 + r), pol(sh(i + 2), keepApp(i + 1), "tcp", 5000 + i * 10 + r)];
}

function toV0(p: PolicyV1) {
  return polV0(p.source.id, p.destination.id, p.destination.protocol, p.destination.ports.start);
}

interface Step {
  readonly what: "keep" | "shared" | "tmp-create" | "tmp-delete" | "doomed" | "never";
  readonly res: HttpResult;
}

async function runClient(tc: TestControl, i: number, token: string): Promise<Step[]> {
  const steps: Step[] = [];
  const step = async (what: Step["what"], send: Promise<HttpResult>) => {
    const res = await send;
    expect(res.status, `client ${i} ${what}: ${res.text}`).toBe(200);
    steps.push({ what, res });
  };
  for (let r = 0; r < ROUNDS; r++) {
    // Odd rounds use the v0 API for the transient policies (all single-port).
    const v0 = r % 2 === 1;
    const tmp = transient(i, r);
    await step("keep", create(tc, kept(i, r), { token }));
    await step("tmp-create", v0 ? create(tc, tmp.map(toV0), { token, base: V0 }) : create(tc, tmp, { token }));
    await step("shared", create(tc, shared(r), { token }));
    await step("tmp-delete", v0 ? remove(tc, tmp.map(toV0), { token, base: V0 }) : remove(tc, tmp, { token }));
    await step("doomed", remove(tc, DOOMED, { token }));
    await step("never", remove(tc, [NEVER], { token }));
  }
  return steps;
}

describe.each(STORE_KINDS)("concurrent policy changes (%s store)", (kind) => {
  const control = useControl(kind);

  it(`${CLIENTS} clients creating and deleting overlapping policies end in the expected state`, async () => {
    const tc = control();
    const db = tc.control.store.db;
    await createOk(tc, DOOMED);
    const baseline = await tc.control.store.revision();
    const tokens = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => tc.token({ scopes: ["network.admin"], subject: `client-${i}` })),
    );

    const results = await Promise.all(tokens.map((t, i) => runClient(tc, i, t)));

    // The final policy set is exactly the expected one.
    const expected: PolicyV1[] = [];
    for (let i = 0; i < CLIENTS; i++) for (let r = 0; r < ROUNDS; r++) expected.push(...kept(i, r));
    for (let r = 0; r < ROUNDS; r++) expected.push(...shared(r));
    const final = await list(tc);
    expect(keys(final.policies)).toEqual(keys(expected));
    expect(final.total_policies, "no duplicates").toBe(keys(expected).length);

    // Tags: unique, held by exactly the apps that are in some policy.
    const expectedApps = [...new Set(expected.flatMap((p) => [p.source.id, p.destination.id]))].sort();
    const tagList = await tags(tc);
    expect(tagList.map((t) => t.id).sort()).toEqual(expectedApps);
    expect(new Set(tagList.map((t) => t.tag)).size, "no tag is shared by two apps").toBe(tagList.length);
    expect(new Set(tagList.map((t) => t.id)).size, "no app has two tags").toBe(tagList.length);
    const untagged = await db.query<{ guid: string }>(
      `SELECT DISTINCT g AS guid FROM (SELECT source_guid AS g FROM policies UNION SELECT dest_guid FROM policies) u
       WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.guid = u.g)`,
    );
    expect(untagged.rows, "every app in a policy has a tag").toEqual([]);
    const strays = await db.query<{ guid: string }>(
      `SELECT guid FROM tags t WHERE guid IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM policies p WHERE p.source_guid = t.guid OR p.dest_guid = t.guid)`,
    );
    expect(strays.rows, "no app outside policies keeps a tag").toEqual([]);

    // Revisions: every change got its own revision, each client saw its own increase, and the
    // changes log is consecutive from the baseline with exactly the revisions the clients saw.
    const all = results.flat();
    const seen = all.map((s) => revisionOf(s.res)).filter((v): v is number => v !== undefined);
    expect(new Set(seen).size, "revisions are distinct").toBe(seen.length);
    for (const [i, steps] of results.entries()) {
      const mine = steps.map((s) => revisionOf(s.res)).filter((v): v is number => v !== undefined);
      for (let k = 1; k < mine.length; k++) expect(mine[k], `client ${i}`).toBeGreaterThan(mine[k - 1]!);
    }
    // Creating new policies and deleting existing ones always commits; the pre-seeded policies are
    // deleted by exactly one request, and deleting a policy that never existed commits nothing.
    for (const s of all) {
      if (s.what === "keep" || s.what === "tmp-create" || s.what === "tmp-delete") expect(revisionOf(s.res), s.what).toBeDefined();
      if (s.what === "never") expect(revisionOf(s.res)).toBeUndefined();
    }
    expect(all.filter((s) => s.what === "doomed" && revisionOf(s.res) !== undefined)).toHaveLength(1);

    const changes = await db.query<{ revision: number }>("SELECT revision FROM weft_changes WHERE revision > $1 ORDER BY revision", [baseline]);
    const logged = changes.rows.map((r) => Number(r.revision));
    expect(logged).toEqual(Array.from({ length: logged.length }, (_, k) => baseline + 1 + k));
    expect(logged).toEqual([...seen].sort((a, b) => a - b));
    expect(await tc.control.store.revision()).toBe(logged.at(-1));
  });
});
