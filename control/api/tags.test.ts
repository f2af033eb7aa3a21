// Conformance: GET /networking/:version/external/tags (reference 2.7, 3.3). One tag per app in any
// policy, rendered "%04X" with type "app"; the lowest free tag is handed out first; a tag is freed
// when its app leaves every policy, and reused. Runs on both stores; each test starts from an
// empty store so tag numbers are predictable.
import { beforeEach, describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import { V0, V1, createOk, pol, putApp, removeOk, resetStore, tags, uid, useControl, type TagJson } from "../../test/support/policy-api.js";

function tagMap(list: readonly TagJson[]): Record<string, string> {
  return Object.fromEntries(list.map((t) => [t.id, t.tag]));
}

describe.each(STORE_KINDS)("tags (%s store)", (kind) => {
  const control = useControl(kind);

  beforeEach(async () => {
    await resetStore(control());
  });

  it("gives each app in a policy one tag, formatted %04X, of type app, on v0 and v1", async () => {
    const [a, b, c] = ["app-a", "app-b", "app-c"];
    await createOk(control(), [pol(a, b), pol(a, b, "udp", 53), pol(b, a), pol(c, a, "tcp", 1, 2)]);
    for (const base of [V0, V1]) {
      const res = await control().request("GET", `${base}/tags`);
      expect(res.status).toBe(200);
      const list = (res.json as { tags: TagJson[] }).tags;
      expect(list).toHaveLength(3);
      expect(list.map((t) => t.id).sort()).toEqual([a, b, c]);
      expect(list.map((t) => t.tag).sort()).toEqual(["0001", "0002", "0003"]);
      for (const t of list) {
        expect(Object.keys(t).sort()).toEqual(["id", "tag", "type"]);
        expect(t.type).toBe("app");
      }
    }
  });

  it("renders tags as four upper-case hex digits", async () => {
    const src = uid("src");
    const dests = Array.from({ length: 299 }, (_, i) => `${src}-d${String(i).padStart(3, "0")}`);
    await createOk(control(), dests.map((d) => pol(src, d)));
    const list = await tags(control());
    expect(list).toHaveLength(300);
    const values = list.map((t) => t.tag);
    for (const v of values) expect(v).toMatch(/^[0-9A-F]{4}$/);
    const expected = Array.from({ length: 300 }, (_, i) => (i + 1).toString(16).toUpperCase().padStart(4, "0"));
    expect([...values].sort()).toEqual(expected);
    expect(values).toEqual(expect.arrayContaining(["000A", "00FF", "0100", "012C"]));
  });

  it("keeps an app's tag while it is in any policy, as source or destination", async () => {
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    await createOk(control(), [pol(a, b)]);
    const first = tagMap(await tags(control()));
    await createOk(control(), [pol(c, a, "udp", 9)]);
    await removeOk(control(), [pol(a, b)]);
    const after = tagMap(await tags(control()));
    expect(after[a]).toBe(first[a]);
    expect(after[b]).toBeUndefined();
    expect(Object.keys(after).sort()).toEqual([a, c].sort());
  });

  it("hands out the lowest free tag first and reuses freed tags", async () => {
    const [a, b, c, d] = ["t1-a", "t1-b", "t1-c", "t1-d"];
    await createOk(control(), [pol(a, b)]);
    await createOk(control(), [pol(c, d)]);
    const start = tagMap(await tags(control()));
    expect(Object.values(start).sort()).toEqual(["0001", "0002", "0003", "0004"]);
    const tagOfB = start[b]!;

    // b leaves its only policy: its tag is freed; a keeps its tag through another policy.
    await createOk(control(), [pol(a, c)]);
    await removeOk(control(), [pol(a, b)]);
    expect(tagMap(await tags(control()))[b]).toBeUndefined();

    // The next new app gets b's tag, the lowest free one; the one after gets 0005.
    const e = "t1-e";
    await createOk(control(), [pol(e, a)]);
    expect(tagMap(await tags(control()))[e]).toBe(tagOfB);
    const f = "t1-f";
    await createOk(control(), [pol(f, a)]);
    expect(tagMap(await tags(control()))[f]).toBe("0005");

    // b comes back: it is a new app for tagging and gets the next free tag, not its old one.
    await createOk(control(), [pol(b, a)]);
    expect(tagMap(await tags(control()))[b]).toBe("0006");
  });

  it("frees the tags of every app a cleanup removes, and only those", async () => {
    const space = uid("space");
    const [reg, gone] = [uid("reg"), uid("gone")];
    await putApp(control(), reg, space);
    const other = uid("other");
    await putApp(control(), other, space);
    await createOk(control(), [pol(reg, gone), pol(reg, other)]);
    const res = await control().request("POST", `${V1}/policies/cleanup`);
    expect(res.status).toBe(200);
    expect(Object.keys(tagMap(await tags(control()))).sort()).toEqual([reg, other].sort());
  });

  it("frees an app's tag when the app is deleted, and its partners' tags when they are left in no policy", async () => {
    const space = uid("space");
    const [a, b, c] = [uid("a"), uid("b"), uid("c")];
    for (const g of [a, b, c]) await putApp(control(), g, space);
    await createOk(control(), [pol(a, b), pol(c, a), pol(b, c)]);
    const del = await control().request("DELETE", `/weft/v1/apps/${a}`);
    expect(del.status).toBe(200);
    expect(Object.keys(tagMap(await tags(control()))).sort()).toEqual([b, c].sort());
    await control().request("DELETE", `/weft/v1/apps/${b}`);
    expect(await tags(control())).toEqual([]);
  });
});
