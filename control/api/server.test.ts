// Conformance: what every response carries (reference 2.2): security headers (HSTS since the API
// is TLS), CORS preflight for allowed origins only, the 10 MB body cap (2.3), and the
// unauthenticated root and health routes. Runs on both stores.
import { describe, expect, it } from "vitest";
import type { HttpResult } from "../../test/support/control.js";
import { STORE_KINDS } from "../../test/support/db.js";
import { V0, V1, uid, useControl } from "../../test/support/policy-api.js";

const ALLOWED_ORIGIN = "https://console.example.test";
const TEN_MB = 10 * 1024 * 1024;

function expectSecurityHeaders(res: HttpResult): void {
  expect(res.headers["x-xss-protection"]).toBe("1; mode=block");
  expect(res.headers["x-content-type-options"]).toBe("nosniff");
  expect(res.headers["strict-transport-security"]).toMatch(/^max-age=\d+/);
}

/** A JSON body of exactly `size` bytes with an empty policy list, padded by an ignored field. */
function paddedBody(size: number): string {
  const head = '{"policies":[],"pad":"';
  const tail = '"}';
  return head + "x".repeat(size - head.length - tail.length) + tail;
}

describe.each(STORE_KINDS)("HTTP edge (%s store)", (kind) => {
  const control = useControl(kind);

  describe("security headers", () => {
    const cases: [string, () => Promise<HttpResult>, number][] = [
      ["a successful list", () => control().request("GET", `${V1}/policies`), 200],
      ["a create", () => control().request("POST", `${V1}/policies`, { body: { policies: [] } }), 400],
      ["a 401", () => control().request("GET", `${V1}/policies`, { token: null }), 401],
      ["a 403", async () => control().request("GET", `${V1}/tags`, { token: await control().token({ scopes: ["network.write"] }) }), 403],
      ["a 406", () => control().request("GET", "/networking/v9/external/policies", { token: null }), 406],
      ["an unknown route", () => control().request("GET", "/nope"), 404],
      ["the uptime route", () => control().request("GET", "/", { token: null }), 200],
      ["a preflight", () => control().request("OPTIONS", `${V1}/policies`, { token: null }), 200],
      ["the apps API", () => control().request("GET", "/weft/v1/apps"), 200],
    ];
    it.each(cases)("are on %s", async (_name, send, status) => {
      const res = await send();
      expect(res.status, res.text).toBe(status);
      expectSecurityHeaders(res);
    });
  });

  describe("CORS", () => {
    const routes = ["/policies", "/policies/delete", "/policies/cleanup", "/tags", "/whoami"];

    it.each(routes)("answers a preflight on %s for an allowed origin without a token", async (path) => {
      for (const base of [V0, V1]) {
        const res = await control().request("OPTIONS", `${base}${path}`, {
          token: null,
          headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
        });
        expect(res.status, res.text).toBe(200);
        expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED_ORIGIN);
        expect(String(res.headers["access-control-allow-methods"])).toMatch(/\bPOST\b/);
        expect(String(res.headers["access-control-allow-methods"])).toMatch(/\bGET\b/);
        expect(String(res.headers["access-control-allow-headers"]).toLowerCase()).toContain("authorization");
        expectSecurityHeaders(res);
      }
    });

    it("gives no CORS headers to another origin", async () => {
      for (const origin of ["https://evil.example.test", "https://console.example.test.evil.test", "http://console.example.test"]) {
        const res = await control().request("OPTIONS", `${V1}/policies`, {
          token: null,
          headers: { origin, "access-control-request-method": "POST" },
        });
        expect(res.headers["access-control-allow-origin"], origin).toBeUndefined();
        expect(res.headers["access-control-allow-methods"], origin).toBeUndefined();
      }
    });

    it("gives no CORS headers without an Origin", async () => {
      const res = await control().request("OPTIONS", `${V1}/policies`, { token: null });
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    });

    it("allows the origin on the actual request too", async () => {
      const res = await control().request("GET", `${V1}/policies`, { headers: { origin: ALLOWED_ORIGIN } });
      expect(res.status).toBe(200);
      expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED_ORIGIN);
      const other = await control().request("GET", `${V1}/policies`, { headers: { origin: "https://evil.example.test" } });
      expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    });
  });

  describe("body cap", () => {
    for (const path of ["/policies", "/policies/delete"]) {
      it(`POST ${path}: a body over 10 MB is 400 failed reading request body`, async () => {
        const res = await control().request("POST", `${V1}${path}`, { raw: paddedBody(TEN_MB + 1) });
        expect(res.status, res.text.slice(0, 200)).toBe(400);
        expect(res.json).toEqual({ error: "failed reading request body" });
      });
    }

    it("applies to a chunked body with no Content-Length", async () => {
      const res = await control().request("POST", `${V1}/policies`, {
        raw: paddedBody(TEN_MB + 1024),
        headers: { "transfer-encoding": "chunked" },
      });
      expect(res.status, res.text.slice(0, 200)).toBe(400);
      expect(res.json).toEqual({ error: "failed reading request body" });
    });

    it("reads a body of exactly 10 MB (then validates it)", async () => {
      const res = await control().request("POST", `${V1}/policies`, { raw: paddedBody(TEN_MB) });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({ error: "mapper: validate policies: missing policies" });
    });

    it("has no limit on the number of policies other than the cap", async () => {
      const src = uid();
      const policies = Array.from({ length: 2000 }, (_, i) => ({
        source: { id: src },
        destination: { id: `dst-${i % 50}`, protocol: i % 2 ? "udp" : "tcp", ports: { start: 1000 + i, end: 1000 + i } },
      }));
      const res = await control().request("POST", `${V1}/policies`, { body: { policies } });
      expect(res.status, res.text).toBe(200);
      const listed = await control().request("GET", `${V1}/policies?source_id=${src}`);
      expect((listed.json as { total_policies: number }).total_policies).toBe(2000);
    });

    it("is checked after the token: an unauthenticated huge body is 401", async () => {
      const res = await control().request("POST", `${V1}/policies`, { token: null, raw: paddedBody(TEN_MB + 1) });
      expect(res.status).toBe(401);
    });
  });

  describe("unauthenticated routes", () => {
    it.each(["/", "/networking"])("GET %s is the uptime text", async (path) => {
      const res = await control().request("GET", path, { token: null });
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/^Network policy server, up for (\d+h)?(\d+m)?\d+s$/);
    });

    it("GET /health checks the store", async () => {
      const res = await control().request("GET", "/health", { token: null });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ healthy: true, store: kind });
    });
  });
});
