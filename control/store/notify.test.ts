// Every committed change bumps the revision and NOTIFYs other replicas on weft_changes, after
// commit, with the new revision; a change that changes nothing bumps nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { STORE_KINDS, openTestDb, type TestDb } from "../../test/support/db.js";
import { Store } from "./store.js";

describe.each(STORE_KINDS)("change notifications (%s)", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await openTestDb(kind);
  });
  afterAll(async () => t?.drop());

  it("notifies each committed revision and skips no-op changes", async () => {
    const store = new Store(t.db);
    const seen: number[] = [];
    const unlisten = await t.db.listen("weft_changes", (payload) => seen.push((JSON.parse(payload) as { revision: number }).revision));
    try {
      const p = { source: "a", destination: "b", protocol: "tcp" as const, startPort: 1, endPort: 65535 };
      const r1 = await store.createPolicies([p]);
      expect(await store.createPolicies([p])).toBeNull();
      const r2 = (await store.upsertApp({ guid: "a", name: "a", spaceGuid: "s", orgGuid: "o" })).revision;
      expect((await store.upsertApp({ guid: "a", name: "a", spaceGuid: "s", orgGuid: "o" })).revision).toBeNull();
      const r3 = await store.deletePolicies([p]);
      expect(await store.deletePolicies([p])).toBeNull();
      expect([r1, r2, r3]).toEqual([1, 2, 3]);
      await eventually(() => expect(seen).toEqual([1, 2, 3]));
      const changes = await t.db.query<{ revision: number; kind: string }>("SELECT revision, kind FROM weft_changes ORDER BY revision");
      expect(changes.rows).toEqual([
        { revision: 1, kind: "policies" },
        { revision: 2, kind: "apps" },
        { revision: 3, kind: "policies" },
      ]);
    } finally {
      await unlisten();
    }
  });
});
