// Group-committed writes and the store-rendered policy list (migration 004, write-batcher.ts,
// Store.listPoliciesJson), on both stores. Concurrent creates and app upserts share transactions
// but must behave exactly as if each ran alone: its own revision (all distinct and consecutive, each
// with its weft_changes row), its own error (a quota failure or an unstorable string fails only its
// own write), and tags still go to the lowest free number. The rendered list must be byte for byte
// what JSON.stringify(renderPolicies(...)) makes, for awkward ids too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWeftError } from "../../common/errors.js";
import { openTestDb, STORE_KINDS, type TestDb } from "../../test/support/db.js";
import { renderPolicies } from "../api/policy-payload.js";
import type { Policy } from "../domain/types.js";
import { Store } from "./store.js";

const pol = (source: string, destination: string, startPort = 8080, endPort = startPort): Policy => ({ source, destination, protocol: "tcp", startPort, endPort });

describe.each(STORE_KINDS)("write batches, %s store", (kind) => {
  let t: TestDb;
  let store: Store;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new Store(t.db);
  });
  afterAll(async () => {
    await t?.drop();
  });

  async function tagOf(guid: string): Promise<number | undefined> {
    return (await store.listTags()).find((e) => e.id === guid)?.tag;
  }

  it("gives concurrent creates and upserts distinct, consecutive revisions, each recorded", async () => {
    const start = await store.revision();
    const writes = Array.from({ length: 60 }, (_, i) =>
      i % 3 === 0
        ? store.upsertApp({ guid: `app-${i}`, name: `n${i}`, spaceGuid: "s", orgGuid: "o" }).then((r) => r.revision)
        : store.createPolicies([pol(`src-${i}`, `dst-${i % 7}`, 1000 + i)]),
    );
    const revisions = (await Promise.all(writes)) as number[];
    expect(revisions.every((r) => typeof r === "number")).toBe(true);
    expect([...revisions].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => start + 1 + i));
    const changes = await t.db.query<{ revision: number }>("SELECT revision FROM weft_changes WHERE revision > $1 ORDER BY revision", [start]);
    expect(changes.rows.map((r) => r.revision)).toEqual(Array.from({ length: 60 }, (_, i) => start + 1 + i));
    expect(await store.revision()).toBe(start + 60);
  });

  it("returns null for writes that change nothing, also inside a batch", async () => {
    await store.upsertApp({ guid: "same", name: "n", spaceGuid: "s", orgGuid: "o" });
    await store.createPolicies([pol("dup-a", "dup-b")]);
    const before = await store.revision();
    const again = await Promise.all([
      store.upsertApp({ guid: "same", name: "n", spaceGuid: "s", orgGuid: "o" }).then((r) => r.revision),
      store.createPolicies([pol("dup-a", "dup-b")]),
      store.createPolicies([pol("dup-a", "dup-b")]),
    ]);
    expect(again).toEqual([null, null, null]);
    expect(await store.revision()).toBe(before);
  });

  it("fails only the write that fails: quota, unstorable text", async () => {
    await store.createPolicies([pol("quota-src", "q-1", 1), pol("quota-src", "q-2", 2)]);
    const before = await store.revision();
    const outcomes = await Promise.allSettled([
      store.createPolicies([pol("ok-1", "ok-dst")]),
      store.createPolicies([pol("quota-src", "q-3", 3)], 2),
      store.createPolicies([pol("ok-2", "ok-dst")]),
      store.createPolicies([pol("nul\u0000src", "ok-dst")]),
      store.upsertApp({ guid: "bad\ud800", name: "n", spaceGuid: "s", orgGuid: "o" }),
      store.createPolicies([pol("ok-3", "ok-dst")]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected", "rejected", "fulfilled"]);
    const reasons = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as unknown] : []));
    expect(isWeftError(reasons[0], "QUOTA_EXCEEDED")).toBe(true);
    expect(isWeftError(reasons[1], "INVALID_ARGUMENT")).toBe(true);
    expect(isWeftError(reasons[2], "INVALID_ARGUMENT")).toBe(true);
    expect(await store.revision()).toBe(before + 3);
    const listed = await store.listPolicies({ ids: ["quota-src", "ok-1", "ok-2", "ok-3"] });
    expect(listed.map((p) => `${p.source}>${p.destination}`).sort()).toEqual(["ok-1>ok-dst", "ok-2>ok-dst", "ok-3>ok-dst", "quota-src>q-1", "quota-src>q-2"]);
  });

  it("hands out the lowest free tag, also after tags are freed", async () => {
    await store.createPolicies([pol("tag-a", "tag-b"), pol("tag-c", "tag-d")]);
    const [a, b, c, d] = [await tagOf("tag-a"), await tagOf("tag-b"), await tagOf("tag-c"), await tagOf("tag-d")];
    expect([b, c, d]).toEqual([a! + 1, a! + 2, a! + 3]);
    await store.deletePolicies([pol("tag-a", "tag-b")]);
    expect(await tagOf("tag-a")).toBeUndefined();
    await store.createPolicies([pol("tag-e", "tag-f")]);
    expect([await tagOf("tag-e"), await tagOf("tag-f")]).toEqual([a, b]);
    const highest = Math.max(...(await store.listTags()).map((e) => e.tag));
    await store.createPolicies([pol("tag-g", "tag-g")]);
    expect(await tagOf("tag-g")).toBe(highest + 1);
  });

  it("takes the set-based path for admin creates, with the loop's revisions, tags, changes and order", async () => {
    // The same batch shape twice, on fresh GUIDs: once through weft_apply_policy_creates (migration
    // 006, which must not fail here, or weft_apply would quietly fall back), once one write at a
    // time through weft_create_policies (004's loop). Everything observable must match.
    const batch = (p: string) => [
      [{ s: `${p}-b`, d: `${p}-a`, p: "tcp", a: 1, b: 1 }],
      [{ s: `${p}-b`, d: `${p}-a`, p: "tcp", a: 1, b: 1 }],
      [{ s: `${p}-c`, d: `${p}-a`, p: "udp", a: 5, b: 9 }, { s: `${p}-c`, d: `${p}-a`, p: "udp", a: 5, b: 9 }, { s: `${p}-a`, d: `${p}-d`, p: "tcp", a: 2, b: 3 }],
      [{ s: "same-old-src", d: "same-old-dst", p: "tcp", a: 7, b: 7 }],
      [{ s: `${p}-a`, d: `${p}-c`, p: "tcp", a: 4, b: 4 }],
    ];
    await store.createPolicies([pol("same-old-src", "same-old-dst", 7)]);
    const observe = async (p: string, from: number) => {
      const changes = await t.db.query<{ revision: number; detail: unknown }>("SELECT revision, detail FROM weft_changes WHERE revision > $1 ORDER BY revision", [from]);
      const tags = await t.db.query<{ guid: string; tag: number }>("SELECT guid, tag FROM tags WHERE guid LIKE $1 ORDER BY tag", [`${p}-%`]);
      const order = await t.db.query<{ source_guid: string; dest_guid: string }>("SELECT source_guid, dest_guid FROM policies WHERE source_guid LIKE $1 ORDER BY id", [`${p}-%`]);
      const minTag = tags.rows[0]!.tag;
      const strip = (v: string) => v.replace(`${p}-`, "");
      return {
        changes: changes.rows.map((c) => ({ rev: c.revision - from, detail: JSON.parse(JSON.stringify(c.detail).replaceAll(`${p}-`, "")) as unknown })),
        tags: tags.rows.map((r) => [strip(r.guid), r.tag - minTag]),
        order: order.rows.map((r) => `${strip(r.source_guid)}>${strip(r.dest_guid)}`),
      };
    };

    const before = await store.revision();
    const res = await t.db.transaction(async (tx) => {
      await tx.query("SELECT weft_lock()");
      return tx.query<{ r: { rev: number | null }[] }>("SELECT weft_apply_policy_creates($1::jsonb) AS r", [JSON.stringify(batch("set").map((p) => ({ k: "policies", p, q: null })))]);
    });
    const fast = res.rows[0]!.r.map((x) => (x.rev === null ? null : x.rev - before));
    const fastSeen = await observe("set", before);

    const mid = await store.revision();
    const slow: (number | null)[] = [];
    for (const p of batch("loop")) {
      const r = await t.db.transaction((tx) => tx.query<{ rev: number | null }>("SELECT weft_create_policies($1::jsonb, NULL) AS rev", [JSON.stringify(p)]));
      slow.push(r.rows[0]!.rev === null ? null : r.rows[0]!.rev - mid);
    }
    expect(fast).toEqual([1, null, 2, null, 3]);
    expect(fast).toEqual(slow);
    expect(fastSeen).toEqual(await observe("loop", mid));
  });

  it("falls back to one write at a time when a set-based batch fails, failing only the bad write", async () => {
    // An invalid protocol (the API refuses it first; the table's CHECK is the last line) fails the
    // set-based statement for the whole batch; the batch then goes through weft_apply's loop.
    const before = await store.revision();
    const bad = { ...pol("fb-bad", "fb-dst"), protocol: "icmp" } as unknown as Policy;
    const outcomes = await Promise.allSettled([
      store.createPolicies([pol("fb-1", "fb-dst")]),
      store.createPolicies([pol("fb-2", "fb-dst")]),
      store.createPolicies([bad]),
      store.createPolicies([pol("fb-3", "fb-dst")]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect(outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []))).toEqual([before + 1, before + 2, before + 3]);
    const listed = await store.listPolicies({ destIds: ["fb-dst"] });
    expect(listed.map((p) => p.source)).toEqual(["fb-1", "fb-2", "fb-3"]);
    expect(await tagOf("fb-bad")).toBeUndefined();
  });

  it("renders lists exactly as renderPolicies and JSON.stringify would, v1 and v0", async () => {
    const odd = ['q"uote', "back\\slash", "slash/ok", "ünï©ødé", "emoji-😀", "line\u2028sep", "tab-less <>&'"];
    await store.createPolicies(odd.flatMap((id, i) => [pol(id, odd[(i + 1) % odd.length]!, 100 + i), pol(`r-${i}`, id, 200, 300 + i)]));
    for (const filter of [{}, { ids: odd.slice(0, 3) }, { sourceIds: ["emoji-😀"] }, { destIds: ['q"uote'] }, { ids: ["nothing-here"] }]) {
      for (const version of ["v1", "v0"] as const) {
        const { count, json } = await store.listPoliciesJson(filter, version);
        const expected = JSON.stringify(renderPolicies(await store.listPolicies(filter), version));
        expect(`{"total_policies":${count},"policies":[${json}]}`).toBe(expected);
      }
    }
  });
});
