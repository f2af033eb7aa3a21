// Several control replicas on one PostgreSQL: a change made through either reaches cells streaming
// to the other (LISTEN/NOTIFY, no polling), and a replica killed and restarted mid-stream loses
// nothing: its cells reconnect by themselves and converge, including on changes made meanwhile.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/support/free-port.js";
import { eventually } from "../../common/eventually.js";
import { createTestDatabase } from "../../test/support/db.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { instance, joinSimAgent, v1Policy } from "../../test/support/plane.js";
import type { SimAgent } from "../../test/support/sim-agent.js";


describe("replicas", () => {
  let db: { url: string; drop: () => Promise<void> };
  let one: TestControl;
  let two: TestControl;
  let grpcPortOne = 0;
  let agent: SimAgent;

  beforeAll(async () => {
    db = await createTestDatabase();
    grpcPortOne = await freePort();
    one = await startTestControl("postgres", { databaseUrl: db.url, grpcListen: { host: "127.0.0.1", port: grpcPortOne } });
    two = await startTestControl("postgres", { databaseUrl: db.url });
    agent = await joinSimAgent(one, "cell-1", "10.0.0.1", `127.0.0.1:${grpcPortOne}`);
    const subnet = (await agent.client.acquireLease("10.0.0.1")).overlaySubnet;
    await agent.client.registerInstance(instance("i-src", "app-src", subnet.replace(/\.0\/24$/, ".2")), "src");
    agent.startSync();
  });

  afterAll(async () => {
    agent?.close();
    await two?.stop();
    await one?.stop();
    await db?.drop();
  });

  it("delivers a change made through one replica to a cell streaming to the other", async () => {
    const res = await two.request("POST", "/networking/v1/external/policies", { body: { policies: [v1Policy("app-src", "app-dst", 7000)] } });
    expect(res.status).toBe(200);
    const rev = Number(res.headers["x-weft-revision"]);
    await eventually(() => {
      expect([...agent.policies.keys()]).toEqual(["app-src|app-dst|tcp|7000|7000"]);
      expect(agent.enforced).toBeGreaterThanOrEqual(rev);
    });
    // Status through the other replica sees the cell's enforcement too.
    await eventually(async () => {
      const status = (await two.request("GET", "/weft/v1/status")).json as { cells: { cell_id: string; enforced_revision: number }[] };
      expect(status.cells.find((c) => c.cell_id === "cell-1")?.enforced_revision).toBeGreaterThanOrEqual(rev);
    });
  });

  it("loses nothing when the replica a cell streams to is killed and restarted", async () => {
    await one.control.stop();
    // While it is down, the cell keeps what it has (fail static) and changes land via the other.
    expect(agent.policies.size).toBe(1);
    const res = await two.request("POST", "/networking/v1/external/policies", { body: { policies: [v1Policy("app-src", "app-dst", 7001)] } });
    const rev = Number(res.headers["x-weft-revision"]);
    await two.request("POST", "/networking/v1/external/policies/delete", { body: { policies: [v1Policy("app-src", "app-dst", 7000)] } });
    expect(agent.policies.has("app-src|app-dst|tcp|7000|7000")).toBe(true);

    one = await startTestControl("postgres", { databaseUrl: db.url, grpcListen: { host: "127.0.0.1", port: grpcPortOne } });
    await eventually(
      () => {
        expect([...agent.policies.keys()]).toEqual(["app-src|app-dst|tcp|7001|7001"]);
        expect(agent.enforced).toBeGreaterThan(rev);
      },
      { timeoutMs: 20_000 },
    );
  });
});
