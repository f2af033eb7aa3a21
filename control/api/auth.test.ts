// Conformance: version check, authentication and scopes on the CF routes (reference 2.2, 2.3),
// with CF's exact statuses and messages and CF's order: 406, then 401, then 403, then the body.
// Runs on both stores.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueToken, loadOrCreateSigningKey } from "../auth/tokens.js";
import { STORE_KINDS } from "../../test/support/db.js";
import { V0, V1, pol, uid, useControl } from "../../test/support/policy-api.js";

const WRITE_ROUTES: [method: string, path: string][] = [
  ["POST", "/policies"],
  ["POST", "/policies/delete"],
  ["GET", "/policies"],
];
const ADMIN_ROUTES: [method: string, path: string][] = [
  ["POST", "/policies/cleanup"],
  ["GET", "/tags"],
  ["GET", "/whoami"],
];
const ALL_ROUTES = [...WRITE_ROUTES, ...ADMIN_ROUTES];
const VALID_BODY = { policies: [pol("a", "b")] };

/** Request options with the valid body on POST only (a GET with a body is refused by the HTTP layer). */
function bodyFor(method: string): { body?: unknown } {
  return method === "POST" ? { body: VALID_BODY } : {};
}

describe.each(STORE_KINDS)("authentication and scopes (%s store)", (kind) => {
  const control = useControl(kind);
  let foreignKeyDir: string;
  let foreignToken: string;

  beforeAll(async () => {
    // A well-formed token from the right issuer name, signed with a key the server does not know.
    foreignKeyDir = mkdtempSync(join(tmpdir(), "weft-foreign-key-"));
    const key = await loadOrCreateSigningKey(foreignKeyDir);
    foreignToken = await issueToken(key, { scopes: ["network.admin"], subject: "mallory", ttlSeconds: 3600 });
  });
  afterAll(() => rmSync(foreignKeyDir, { recursive: true, force: true }));

  describe("version", () => {
    it.each(ALL_ROUTES)("%s %s with an unsupported version is 406, before auth", async (method, path) => {
      for (const version of ["v2", "v10", "V1", "latest"]) {
        const res = await control().request(method, `/networking/${version}/external${path}`, { token: null, ...bodyFor(method) });
        expect(res.status, res.text).toBe(406);
        expect(res.json).toEqual({ error: `api version '${version}' not supported` });
      }
    });

    it("accepts v0 and v1", async () => {
      for (const base of [V0, V1]) {
        const res = await control().request("GET", `${base}/policies`);
        expect(res.status, res.text).toBe(200);
      }
    });
  });

  describe("authentication", () => {
    it.each(ALL_ROUTES)("%s %s without Authorization is 401 with WWW-Authenticate: Bearer", async (method, path) => {
      for (const base of [V0, V1]) {
        const res = await control().request(method, `${base}${path}`, { token: null, ...bodyFor(method) });
        expect(res.status, res.text).toBe(401);
        expect(res.json).toEqual({ error: "missing authorization header" });
        expect(res.headers["www-authenticate"]).toBe("Bearer");
      }
    });

    it("treats an empty Authorization header as missing", async () => {
      const res = await control().request("GET", `${V1}/policies`, { token: null, headers: { authorization: "" } });
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: "missing authorization header" });
    });

    const badTokens: [string, () => Promise<string>][] = [
      ["garbage", () => Promise.resolve("not-a-token")],
      ["garbage with dots", () => Promise.resolve("aaa.bbb.ccc")],
      ["expired", () => control().token({ scopes: ["network.admin"], ttlSeconds: -120 })],
      ["signed with the wrong key", () => Promise.resolve(foreignToken)],
      ["tampered payload", () => {
        const [h, , s] = control().adminToken.split(".");
        const payload = Buffer.from(JSON.stringify({ iss: "weft", scope: ["network.admin"], exp: 9999999999 })).toString("base64url");
        return Promise.resolve(`${h}.${payload}.${s}`);
      }],
    ];

    it.each(badTokens)("a %s token is 401 failed to verify token with uaa", async (_name, make) => {
      const tok = await make();
      for (const [method, path] of ALL_ROUTES) {
        const res = await control().request(method, `${V1}${path}`, { token: tok, ...bodyFor(method) });
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(401);
        expect(res.json).toEqual({ error: "failed to verify token with uaa" });
      }
    });

    it("accepts both the Bearer and the bearer prefix", async () => {
      for (const prefix of ["Bearer ", "bearer "]) {
        const res = await control().request("GET", `${V1}/policies`, { token: null, headers: { authorization: prefix + control().adminToken } });
        expect(res.status, res.text).toBe(200);
      }
    });
  });

  describe("scopes", () => {
    it.each(WRITE_ROUTES)("%s %s without a network scope is 403 naming both scope lists", async (method, path) => {
      const tok = await control().token({ scopes: ["openid", "cloud_controller.read"] });
      const res = await control().request(method, `${V1}${path}`, { token: tok, ...bodyFor(method) });
      expect(res.status, res.text).toBe(403);
      expect(res.json).toEqual({
        error: "provided scopes [openid cloud_controller.read] do not include allowed scopes [network.admin network.write]",
      });
    });

    it("a token with no scopes at all lists none", async () => {
      const tok = await control().token({ scopes: [] });
      const res = await control().request("GET", `${V1}/policies`, { token: tok });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({ error: "provided scopes [] do not include allowed scopes [network.admin network.write]" });
    });

    it.each(ADMIN_ROUTES)("%s %s is admin-only: network.write gets 403", async (method, path) => {
      const tok = await control().token({ scopes: ["network.write"], spaces: ["s1"] });
      for (const base of [V0, V1]) {
        const res = await control().request(method, `${base}${path}`, { token: tok });
        expect(res.status, res.text).toBe(403);
        expect(res.json).toEqual({ error: "provided scopes [network.write] do not include allowed scopes [network.admin]" });
      }
    });

    it("checks the scope before reading or validating the body", async () => {
      const tok = await control().token({ scopes: ["openid"] });
      const res = await control().request("POST", `${V1}/policies`, { token: tok, raw: "{not json" });
      expect(res.status).toBe(403);
    });

    it("network.write may use the write routes", async () => {
      const space = uid("space");
      const tok = await control().token({ scopes: ["network.write"], spaces: [space] });
      const res = await control().request("GET", `${V1}/policies`, { token: tok });
      expect(res.status, res.text).toBe(200);
    });
  });

  describe("whoami", () => {
    it("returns the admin's subject on v0 and v1", async () => {
      for (const base of [V0, V1]) {
        const res = await control().request("GET", `${base}/whoami`);
        expect(res.status).toBe(200);
        expect(res.json).toEqual({ subject: "admin" });
      }
    });

    it("returns the token's user name", async () => {
      const tok = await control().token({ scopes: ["network.admin", "openid"], subject: "alice@example.test" });
      const res = await control().request("GET", `${V1}/whoami`, { token: tok });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ subject: "alice@example.test" });
    });
  });
});
