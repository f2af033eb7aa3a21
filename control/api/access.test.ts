// Conformance: what a non-admin (network.write with spaces) may do (reference 2.3 items 4-7).
// Create and delete need every app registered in one of the token's spaces, else one 403 for
// unknown and foreign apps alike; list hides policies not wholly inside the token's spaces; a
// source app may have at most 150 policies (admins are unlimited). Runs on both stores.
import { beforeAll, describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import { V0, create, createOk, errorOf, keys, list, listKeys, pol, polV0, putApp, remove, removeOk, uid, useControl } from "../../test/support/policy-api.js";

const CANNOT_ACCESS = "one or more applications cannot be found or accessed";

describe.each(STORE_KINDS)("non-admin access (%s store)", (kind) => {
  const control = useControl(kind);
  const s1 = uid("space1");
  const s2 = uid("space2");
  const [a1, a2, a3, b1] = [uid("a1"), uid("a2"), uid("a3"), uid("b1")];
  let w1: string; // network.write in s1
  let w12: string; // network.write in s1 and s2
  let none: string; // network.write in no space

  beforeAll(async () => {
    for (const g of [a1, a2, a3]) await putApp(control(), g, s1);
    await putApp(control(), b1, s2);
    w1 = await control().token({ scopes: ["network.write"], spaces: [s1], subject: "dev1" });
    w12 = await control().token({ scopes: ["network.write", "openid"], spaces: [s1, s2], subject: "dev12" });
    none = await control().token({ scopes: ["network.write"], subject: "nobody" });
  });

  async function expectForbidden(res: Promise<{ status: number; json: unknown }>, message = CANNOT_ACCESS): Promise<void> {
    const r = await res;
    expect(r.status, JSON.stringify(r.json)).toBe(403);
    expect(r.json).toEqual({ error: message });
  }

  it("may create and delete policies between apps in its spaces, on v1 and v0", async () => {
    await createOk(control(), [pol(a1, a2, "tcp", 7001)], { token: w1 });
    await createOk(control(), [polV0(a2, a1, "udp", 7002)], { token: w1, base: V0 });
    expect(await listKeys(control(), `?id=${a1}`, { token: w1 })).toEqual(keys([pol(a1, a2, "tcp", 7001), pol(a2, a1, "udp", 7002)]));
    await removeOk(control(), [pol(a1, a2, "tcp", 7001)], { token: w1 });
    await removeOk(control(), [polV0(a2, a1, "udp", 7002)], { token: w1, base: V0 });
    expect(await listKeys(control(), `?id=${a1}`)).toEqual([]);
  });

  it("may create cross-space policies when it has both spaces", async () => {
    await createOk(control(), [pol(a1, b1, "tcp", 7101)], { token: w12 });
    await createOk(control(), [pol(b1, a1, "tcp", 7102)], { token: w12 });
  });

  it("gets 403 for an app in a space it does not have", async () => {
    await expectForbidden(create(control(), [pol(a1, b1, "tcp", 7201)], { token: w1 }));
    await expectForbidden(create(control(), [pol(b1, a1, "tcp", 7201)], { token: w1 }));
    await expectForbidden(create(control(), [pol(a1, a2), pol(a2, b1)], { token: w1 }));
    // The refused mixed request stored nothing, not even its allowed policy.
    expect(await listKeys(control(), `?source_id=${a1}&dest_id=${a2}`)).toEqual([]);
  });

  it("gets the same 403 for an unknown app GUID", async () => {
    await expectForbidden(create(control(), [pol(a1, uid("unknown"))], { token: w1 }));
    await expectForbidden(create(control(), [pol(uid("unknown"), a1)], { token: w12 }));
    await expectForbidden(remove(control(), [pol(a1, uid("unknown"))], { token: w1 }));
  });

  it("gets 403 for everything with a token that has no spaces", async () => {
    await expectForbidden(create(control(), [pol(a1, a2)], { token: none }));
    await expectForbidden(remove(control(), [pol(a1, a2)], { token: none }));
    expect(await list(control(), "", { token: none })).toEqual({ total_policies: 0, policies: [] });
  });

  it("may not delete a policy that touches a foreign app, even if it exists", async () => {
    await createOk(control(), [pol(a3, b1, "udp", 7301)]);
    await expectForbidden(remove(control(), [pol(a3, b1, "udp", 7301)], { token: w1 }));
    expect(await listKeys(control(), `?id=${a3}`)).toEqual(keys([pol(a3, b1, "udp", 7301)]));
    await removeOk(control(), [pol(a3, b1, "udp", 7301)], { token: w12 });
  });

  it("lists only policies whose source and destination are both in its spaces", async () => {
    const inside = [pol(a3, a2, "tcp", 7401)];
    const crossing = [pol(a3, b1, "tcp", 7402), pol(b1, a3, "tcp", 7403)];
    const unregistered = [pol(a3, uid("unreg"), "tcp", 7404)];
    await createOk(control(), [...inside, ...crossing, ...unregistered]);
    expect(await listKeys(control(), `?id=${a3}`, { token: w1 })).toEqual(keys(inside));
    expect(await listKeys(control(), `?source_id=${b1}`, { token: w1 })).toEqual([]);
    expect(await listKeys(control(), `?id=${a3}`, { token: w12 })).toEqual(keys([...inside, ...crossing]));
    expect(await listKeys(control(), `?id=${a3}`)).toEqual(keys([...inside, ...crossing, ...unregistered]));
    const all = await list(control(), "", { token: w1 });
    for (const p of all.policies) {
      expect([a1, a2, a3]).toContain(p.source.id);
      expect([a1, a2, a3]).toContain(p.destination.id);
    }
  });

  it("sees a policy disappear from its list when an app moves out of its spaces", async () => {
    const [m, n] = [uid("m"), uid("n")];
    await putApp(control(), m, s1);
    await putApp(control(), n, s1);
    await createOk(control(), [pol(m, n)], { token: w1 });
    expect(await listKeys(control(), `?id=${m}`, { token: w1 })).toHaveLength(1);
    await putApp(control(), n, s2);
    expect(await listKeys(control(), `?id=${m}`, { token: w1 })).toEqual([]);
    await expectForbidden(remove(control(), [pol(m, n)], { token: w1 }));
  });

  it("lets an admin use unregistered app GUIDs", async () => {
    const [x, y] = [uid("x"), uid("y")];
    await createOk(control(), [pol(x, y)]);
    await removeOk(control(), [pol(x, y)]);
  });

  describe("quota", () => {
    const ports = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

    it("allows 150 policies per source app and refuses the 151st", async () => {
      const [src, dst] = [uid("q-src"), uid("q-dst")];
      await putApp(control(), src, s1);
      await putApp(control(), dst, s1);
      await createOk(control(), ports(1, 100).map((p) => pol(src, dst, "tcp", p)), { token: w1 });
      await createOk(control(), ports(101, 50).map((p) => pol(src, dst, "tcp", p)), { token: w1 });
      await expectForbidden(create(control(), [pol(src, dst, "udp", 1)], { token: w1 }), "policy quota exceeded");
      expect((await list(control(), `?source_id=${src}`)).total_policies).toBe(150);

      // Per source: dst may still be a source, and src may still be a destination.
      await createOk(control(), [pol(dst, src, "udp", 1)], { token: w1 });

      // Deleting one makes room for one.
      await removeOk(control(), [pol(src, dst, "tcp", 150)], { token: w1 });
      await createOk(control(), [pol(src, dst, "udp", 1)], { token: w1 });
      await expectForbidden(create(control(), [pol(src, dst, "udp", 2)], { token: w1 }), "policy quota exceeded");
    });

    it("refuses a single request that would pass the quota, storing none of it", async () => {
      const [src, dst] = [uid("q-src"), uid("q-dst")];
      await putApp(control(), src, s1);
      await putApp(control(), dst, s1);
      const res = await create(control(), ports(1, 151).map((p) => pol(src, dst, "tcp", p)), { token: w1 });
      expect(res.status).toBe(403);
      expect(errorOf(res)).toBe("policy quota exceeded");
      expect((await list(control(), `?id=${src}`)).total_policies).toBe(0);
    });

    it("does not apply to admins", async () => {
      const [src, dst] = [uid("q-src"), uid("q-dst")];
      await putApp(control(), src, s1);
      await putApp(control(), dst, s1);
      await createOk(control(), ports(1, 300).map((p) => pol(src, dst, "tcp", p)));
      await createOk(control(), [pol(src, dst, "udp", 1)]);
      expect((await list(control(), `?source_id=${src}`)).total_policies).toBe(301);
      // ...but a non-admin adding to that source is still refused.
      await expectForbidden(create(control(), [pol(src, dst, "udp", 2)], { token: w1 }), "policy quota exceeded");
    });
  });
});
