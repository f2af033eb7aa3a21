// PostgreSQL going away and coming back, seen through the REST API: requests get 503 with a clear
// error, /health says why, nothing half-applies, and the server recovers by itself.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { createTestDatabase } from "../test/support/db.js";
import { startTestControl, type TestControl } from "../test/support/control.js";
import { startTcpProxy, type TcpProxy } from "../test/support/tcp-proxy.js";

const policy = (src: string, dst: string, port = 8080) => ({
  source: { id: src },
  destination: { id: dst, protocol: "tcp", ports: { start: port, end: port } },
});

describe("store outage", () => {
  let proxy: TcpProxy;
  let api: TestControl;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    const db = await createTestDatabase();
    dropDb = db.drop;
    const url = new URL(db.url);
    proxy = await startTcpProxy(url.hostname, Number(url.port || 5432));
    url.port = String(proxy.port);
    api = await startTestControl("postgres", { databaseUrl: url.toString() });
  });

  afterAll(async () => {
    await api?.stop();
    await proxy?.close();
    await dropDb?.();
  });

  it("answers 503 while PostgreSQL is unreachable and recovers when it returns", async () => {
    const ok = await api.request("POST", "/networking/v1/external/policies", { body: { policies: [policy("a", "b")] } });
    expect(ok.status).toBe(200);

    await proxy.cut();
    const create = await api.request("POST", "/networking/v1/external/policies", { body: { policies: [policy("a", "c")] } });
    expect(create.status).toBe(503);
    expect((create.json as { error: string }).error).toMatch(/^store unavailable: /);
    const list = await api.request("GET", "/networking/v1/external/policies");
    expect(list.status).toBe(503);
    const health = await api.request("GET", "/health", { token: null });
    expect(health.status).toBe(503);
    expect(health.json).toMatchObject({ healthy: false, store: "postgres" });
    expect((health.json as { error: string }).error).toMatch(/store unavailable/);

    await proxy.restore();
    await eventually(async () => {
      const res = await api.request("GET", "/health", { token: null });
      expect(res.status).toBe(200);
    });
    const after = await api.request("GET", "/networking/v1/external/policies");
    expect(after.status).toBe(200);
    // The failed create did not half-apply; the earlier one is intact.
    expect(after.json).toEqual({ total_policies: 1, policies: [policy("a", "b")] });
    const retry = await api.request("POST", "/networking/v1/external/policies", { body: { policies: [policy("a", "c")] } });
    expect(retry.status).toBe(200);
  });
});
