// Weft's app registry, /weft/v1/apps: PUT creates (201) or updates (200), GET lists (optionally by
// name) and reads one, DELETE removes the app with its policies in both directions and frees its
// tag. Non-admins see and change only apps in their token's spaces. Runs on both stores.
import { describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import { createOk, keys, listKeys, pol, putApp, revisionOf, tags, uid, useControl } from "../../test/support/policy-api.js";

interface AppJson {
  guid: string;
  name: string;
  space_guid: string;
  org_guid: string;
}

describe.each(STORE_KINDS)("apps API (%s store)", (kind) => {
  const control = useControl(kind);
  const put = (guid: string, body: unknown, token?: string) =>
    control().request("PUT", `/weft/v1/apps/${guid}`, { body, ...(token ? { token } : {}) });

  it("PUT creates with 201, then answers 200; a change commits a new revision", async () => {
    const guid = uid();
    const body = { name: "web", space_guid: "space-a", org_guid: "org-a" };
    const created = await put(guid, body);
    expect(created.status, created.text).toBe(201);
    expect(created.json).toEqual({ guid, ...body });
    const r1 = revisionOf(created);
    expect(r1).toBeGreaterThan(0);

    const same = await put(guid, body);
    expect(same.status).toBe(200);
    expect(same.json).toEqual({ guid, ...body });
    expect(revisionOf(same), "an unchanged app commits nothing").toBeUndefined();

    const renamed = await put(guid, { ...body, name: "web-2" });
    expect(renamed.status).toBe(200);
    expect(revisionOf(renamed)).toBeGreaterThan(r1!);
    const got = await control().request("GET", `/weft/v1/apps/${guid}`);
    expect(got.status).toBe(200);
    expect(got.json).toEqual({ guid, ...body, name: "web-2" });
  });

  it("GET lists apps and filters by exact name", async () => {
    const name = uid("name");
    const [g1, g2, g3] = [uid(), uid(), uid()];
    await putApp(control(), g1, "space-l", name);
    await putApp(control(), g2, "space-m", name);
    await putApp(control(), g3, "space-l", `${name}-other`);
    const all = await control().request("GET", "/weft/v1/apps");
    expect(all.status).toBe(200);
    const guids = (all.json as { apps: AppJson[] }).apps.map((a) => a.guid);
    expect(guids).toEqual(expect.arrayContaining([g1, g2, g3]));
    const byName = await control().request("GET", `/weft/v1/apps?name=${encodeURIComponent(name)}`);
    expect(byName.status).toBe(200);
    expect((byName.json as { apps: AppJson[] }).apps.map((a) => a.guid).sort()).toEqual([g1, g2].sort());
    const none = await control().request("GET", `/weft/v1/apps?name=${uid("nobody")}`);
    expect(none.json).toEqual({ apps: [] });
  });

  it("GET of an unknown app is 404", async () => {
    const res = await control().request("GET", `/weft/v1/apps/${uid()}`);
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: "app not found" });
  });

  it("DELETE removes the app, its policies in both directions, and its tag", async () => {
    const space = uid("space");
    const [gone, peer, other] = [uid("gone"), uid("peer"), uid("other")];
    for (const g of [gone, peer, other]) await putApp(control(), g, space);
    const untouched = [pol(peer, other), pol(other, peer, "udp", 5)];
    await createOk(control(), [pol(gone, peer), pol(peer, gone, "udp", 53), pol(gone, gone, "tcp", 1, 9), ...untouched]);
    expect((await tags(control())).map((t) => t.id)).toContain(gone);

    const del = await control().request("DELETE", `/weft/v1/apps/${gone}`);
    expect(del.status, del.text).toBe(200);
    expect(del.json).toEqual({});
    expect(revisionOf(del)).toBeGreaterThan(0);

    expect(await listKeys(control(), `?id=${gone},${peer},${other}`)).toEqual(keys(untouched));
    const tagIds = (await tags(control())).map((t) => t.id);
    expect(tagIds).not.toContain(gone);
    expect(tagIds).toEqual(expect.arrayContaining([peer, other]));
    expect((await control().request("GET", `/weft/v1/apps/${gone}`)).status).toBe(404);
    expect((await control().request("DELETE", `/weft/v1/apps/${gone}`)).status).toBe(404);
  });

  it("DELETE frees a partner's tag when the partner is left in no policy", async () => {
    const space = uid("space");
    const [gone, partner] = [uid("gone"), uid("partner")];
    await putApp(control(), gone, space);
    await putApp(control(), partner, space);
    await createOk(control(), [pol(partner, gone)]);
    await control().request("DELETE", `/weft/v1/apps/${gone}`);
    const tagIds = (await tags(control())).map((t) => t.id);
    expect(tagIds).not.toContain(gone);
    expect(tagIds).not.toContain(partner);
  });

  it("validates the body", async () => {
    const guid = uid();
    const cases: [unknown, string][] = [
      [{ space_guid: "s", org_guid: "o" }, "missing name"],
      [{ name: "n", org_guid: "o" }, "missing space_guid"],
      [{ name: "n", space_guid: "s" }, "missing org_guid"],
      [{ name: 5, space_guid: "s", org_guid: "o" }, "invalid name, must be a string"],
      [[], "invalid JSON body: expected an object with name, space_guid and org_guid"],
    ];
    for (const [body, error] of cases) {
      const res = await put(guid, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json).toEqual({ error });
    }
    const bad = await control().request("PUT", `/weft/v1/apps/${guid}`, { raw: "{" });
    expect(bad.status).toBe(400);
    expect((bad.json as { error: string }).error).toMatch(/^invalid JSON body: /);
    expect((await control().request("GET", `/weft/v1/apps/${guid}`)).status).toBe(404);
  });

  it("needs a token and a network scope", async () => {
    const anon = await control().request("GET", "/weft/v1/apps", { token: null });
    expect(anon.status).toBe(401);
    expect(anon.json).toEqual({ error: "missing authorization header" });
    const tok = await control().token({ scopes: ["openid"] });
    const res = await control().request("GET", "/weft/v1/apps", { token: tok });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({ error: "provided scopes [openid] do not include allowed scopes [network.admin network.write]" });
  });

  it("limits a non-admin to apps in its spaces", async () => {
    const [mine, theirs] = [uid("space-mine"), uid("space-theirs")];
    const tok = await control().token({ scopes: ["network.write"], spaces: [mine] });
    const [g1, g2] = [uid(), uid()];
    const created = await put(g1, { name: "n1", space_guid: mine, org_guid: "o" }, tok);
    expect(created.status, created.text).toBe(201);
    const foreign = await put(g2, { name: "n2", space_guid: theirs, org_guid: "o" }, tok);
    expect(foreign.status).toBe(403);
    expect(foreign.json).toEqual({ error: "space cannot be accessed" });

    await putApp(control(), g2, theirs);
    const listed = await control().request("GET", "/weft/v1/apps", { token: tok });
    expect((listed.json as { apps: AppJson[] }).apps.map((a) => a.guid)).toEqual([g1]);
    expect((await control().request("GET", `/weft/v1/apps/${g2}`, { token: tok })).status).toBe(404);
    expect((await control().request("DELETE", `/weft/v1/apps/${g2}`, { token: tok })).status).toBe(404);
    // Moving someone else's app into my space is refused too.
    const steal = await put(g2, { name: "n2", space_guid: mine, org_guid: "o" }, tok);
    expect(steal.status).toBe(403);
    expect(steal.json).toEqual({ error: "one or more applications cannot be found or accessed" });
    expect((await control().request("DELETE", `/weft/v1/apps/${g1}`, { token: tok })).status).toBe(200);
  });
});
