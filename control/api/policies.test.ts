// Conformance: policy semantics (reference 2.4, 2.6): idempotent create, exact-match delete that
// is a no-op for missing policies, list filters, no pagination, v0 bodies, the cleanup endpoint,
// and the X-Weft-Revision header on every committed change. Runs on both stores.
import { describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import {
  V0,
  V1,
  create,
  createOk,
  keyOf,
  keys,
  list,
  listKeys,
  pol,
  polV0,
  putApp,
  remove,
  removeOk,
  revisionOf,
  uid,
  useControl,
  type PolicyV0,
  type PolicyV1,
} from "../../test/support/policy-api.js";

describe.each(STORE_KINDS)("policy semantics (%s store)", (kind) => {
  const control = useControl(kind);

  describe("create", () => {
    it("stores a policy and lists it in CF's shape, without tags", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b, "tcp", 8080, 8090)]);
      const body = await list(control(), `?id=${a}`);
      expect(body).toEqual({
        total_policies: 1,
        policies: [{ source: { id: a }, destination: { id: b, protocol: "tcp", ports: { start: 8080, end: 8090 } } }],
      });
    });

    it("is idempotent, across requests and within one request", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b), pol(a, b), pol(a, b, "udp", 53)]);
      const again = await createOk(control(), [pol(a, b), pol(a, b, "udp", 53)]);
      expect(revisionOf(again), "an unchanged store commits no revision").toBeUndefined();
      await createOk(control(), [pol(a, b), pol(b, a)]);
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys([pol(a, b), pol(a, b, "udp", 53), pol(b, a)]));
    });

    it("treats policies that differ in any field as distinct", async () => {
      const [a, b] = [uid(), uid()];
      const variants = [pol(a, b, "tcp", 80, 80), pol(a, b, "udp", 80, 80), pol(a, b, "tcp", 80, 81), pol(a, b, "tcp", 79, 80), pol(b, a, "tcp", 80, 80)];
      await createOk(control(), variants);
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys(variants));
    });
  });

  describe("delete", () => {
    it("removes exactly the matching policy", async () => {
      const [a, b] = [uid(), uid()];
      const keep = [pol(a, b, "tcp", 80, 81), pol(a, b, "udp", 80, 80), pol(b, a, "tcp", 80, 80)];
      await createOk(control(), [pol(a, b, "tcp", 80, 80), ...keep]);
      await removeOk(control(), [pol(a, b, "tcp", 80, 80)]);
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys(keep));
    });

    it("is 200 {} with no revision for a policy that does not exist", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b, "tcp", 80, 90)]);
      for (const missing of [pol(a, b, "tcp", 80, 89), pol(a, b, "udp", 80, 90), pol(b, a, "tcp", 80, 90), pol(uid(), uid())]) {
        const res = await removeOk(control(), [missing]);
        expect(revisionOf(res)).toBeUndefined();
      }
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys([pol(a, b, "tcp", 80, 90)]));
    });

    it("accepts duplicates and a mix of existing and missing policies", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b), pol(a, b, "udp", 1)]);
      await removeOk(control(), [pol(a, b), pol(a, b), pol(a, b, "tcp", 9)]);
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys([pol(a, b, "udp", 1)]));
    });
  });

  describe("list filters", () => {
    // a->b, b->c, c->a, d->b, a->d, e->e
    const apps = () => ({ a: uid("a"), b: uid("b"), c: uid("c"), d: uid("d"), e: uid("e") });

    async function seed(): Promise<{ ids: ReturnType<typeof apps>; all: PolicyV1[] }> {
      const ids = apps();
      const { a, b, c, d, e } = ids;
      const all = [pol(a, b), pol(b, c, "udp", 53), pol(c, a, "tcp", 1, 100), pol(d, b), pol(a, d, "tcp", 9000), pol(e, e)];
      await createOk(control(), all);
      return { ids, all };
    }

    it("id= matches the source or the destination, for each comma-separated GUID", async () => {
      const { ids: { a, b, d, e }, all } = await seed();
      const involves = (...g: string[]) => keys(all.filter((p) => g.includes(p.source.id) || g.includes(p.destination.id)));
      expect(await listKeys(control(), `?id=${a}`)).toEqual(involves(a));
      expect(await listKeys(control(), `?id=${a},${e}`)).toEqual(involves(a, e));
      expect(await listKeys(control(), `?id=${b},${d}`)).toEqual(involves(b, d));
      expect(await listKeys(control(), `?id=${uid()}`)).toEqual([]);
    });

    it("source_id= and dest_id= match one side", async () => {
      const { ids: { a, b, c, d }, all } = await seed();
      const from = (...g: string[]) => keys(all.filter((p) => g.includes(p.source.id)));
      const to = (...g: string[]) => keys(all.filter((p) => g.includes(p.destination.id)));
      expect(await listKeys(control(), `?source_id=${a}`)).toEqual(from(a));
      expect(await listKeys(control(), `?source_id=${a},${d}`)).toEqual(from(a, d));
      expect(await listKeys(control(), `?dest_id=${b}`)).toEqual(to(b));
      expect(await listKeys(control(), `?dest_id=${a},${c}`)).toEqual(to(a, c));
    });

    it("source_id= with dest_id= needs both to match", async () => {
      const { ids: { a, b, c, d } } = await seed();
      expect(await listKeys(control(), `?source_id=${a}&dest_id=${b}`)).toEqual(keys([pol(a, b)]));
      expect(await listKeys(control(), `?source_id=${a},${d}&dest_id=${b},${d}`)).toEqual(keys([pol(a, b), pol(d, b), pol(a, d, "tcp", 9000)]));
      expect(await listKeys(control(), `?source_id=${b}&dest_id=${a}`)).toEqual([]);
      expect(await listKeys(control(), `?source_id=${c}&dest_id=${a},${b}`)).toEqual(keys([pol(c, a, "tcp", 1, 100)]));
    });

    it("returns every policy in one page", async () => {
      const src = uid();
      const many = Array.from({ length: 600 }, (_, i) => pol(src, `${src}-d${i % 7}`, "tcp", i + 1));
      await createOk(control(), many);
      const body = await list(control(), `?source_id=${src}`);
      expect(body.total_policies).toBe(600);
      expect(keys(body.policies)).toEqual(keys(many));
    });
  });

  describe("v0", () => {
    it("create stores port..port and list shows a single port", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [polV0(a, b, "udp", 5000), polV0(a, b, "tcp", 5000)], { base: V0 });
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys([pol(a, b, "udp", 5000, 5000), pol(a, b, "tcp", 5000, 5000)]));
      const v0 = await list<PolicyV0>(control(), `?id=${a}`, { base: V0 });
      expect(v0.total_policies).toBe(2);
      expect(v0.policies).toEqual(expect.arrayContaining([polV0(a, b, "udp", 5000), polV0(a, b, "tcp", 5000)]));
    });

    it("list omits ranges and counts only what it shows", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b, "tcp", 6000, 6010), pol(a, b, "tcp", 7000, 7000)]);
      expect(await list<PolicyV0>(control(), `?id=${a}`, { base: V0 })).toEqual({ total_policies: 1, policies: [polV0(a, b, "tcp", 7000)] });
    });

    it("delete matches port..port exactly", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b, "tcp", 6000, 6010), pol(a, b, "tcp", 6000, 6000)]);
      await removeOk(control(), [polV0(a, b, "tcp", 6000)], { base: V0 });
      expect(await listKeys(control(), `?id=${a}`)).toEqual(keys([pol(a, b, "tcp", 6000, 6010)]));
    });

    it("v1 and v0 create the same policy once", async () => {
      const [a, b] = [uid(), uid()];
      await createOk(control(), [pol(a, b, "tcp", 443)]);
      const res = await createOk(control(), [polV0(a, b, "tcp", 443)], { base: V0 });
      expect(revisionOf(res)).toBeUndefined();
      expect((await list(control(), `?id=${a}`)).total_policies).toBe(1);
    });
  });

  describe("cleanup", () => {
    it("removes the policies whose source or destination app is not registered, and returns them", async () => {
      const space = uid("space");
      const [r1, r2, gone] = [uid("reg"), uid("reg"), uid("gone")];
      await putApp(control(), r1, space);
      await putApp(control(), r2, space);
      const kept = [pol(r1, r2), pol(r2, r1, "udp", 53)];
      const stale = [pol(r1, gone), pol(gone, r2, "tcp", 1, 9), pol(gone, gone)];
      await createOk(control(), [...kept, ...stale]);

      const res = await control().request("POST", `${V1}/policies/cleanup`);
      expect(res.status, res.text).toBe(200);
      const body = res.json as { total_policies: number; policies: PolicyV1[] };
      expect(body.total_policies).toBe(body.policies.length);
      const removed = body.policies.map(keyOf);
      expect(removed).toEqual(expect.arrayContaining(keys(stale)));
      for (const k of keys(kept)) expect(removed).not.toContain(k);
      expect(revisionOf(res)).toBeGreaterThan(0);

      expect(await listKeys(control(), `?id=${r1},${r2},${gone}`)).toEqual(keys(kept));
      const again = await control().request("POST", `${V1}/policies/cleanup`);
      expect(again.json).toEqual({ total_policies: 0, policies: [] });
      expect(revisionOf(again)).toBeUndefined();
    });
  });

  describe("revision header", () => {
    it("is returned on each change and increases", async () => {
      const [a, b] = [uid(), uid()];
      const seen: number[] = [];
      for (const send of [
        () => create(control(), [pol(a, b)]),
        () => create(control(), [pol(a, b, "udp", 1)]),
        () => remove(control(), [pol(a, b)]),
        () => create(control(), [polV0(b, a)], { base: V0 }),
        () => remove(control(), [pol(a, b, "udp", 1), pol(b, a)]),
      ]) {
        const res = await send();
        expect(res.status, res.text).toBe(200);
        const rev = revisionOf(res);
        expect(rev).toBeDefined();
        seen.push(rev!);
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
      expect(await control().control.store.revision()).toBeGreaterThanOrEqual(seen.at(-1)!);
    });

    it("is absent on reads and on failed requests", async () => {
      expect(revisionOf(await control().request("GET", `${V1}/policies`))).toBeUndefined();
      expect(revisionOf(await control().request("POST", `${V1}/policies`, { body: { policies: [] } }))).toBeUndefined();
    });
  });
});
