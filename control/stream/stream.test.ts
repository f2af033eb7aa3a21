// The control stream end to end, with real gRPC over mutual TLS and real PostgreSQL: join, leases,
// registration, snapshot then deltas filtered per cell, acks and nacks, resume, and status.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { instance, joinSimAgent, v1Policy } from "../../test/support/plane.js";
import { ruleKey, type SimAgent } from "../../test/support/sim-agent.js";

interface StatusJson {
  revision: number;
  cells: { cell_id: string; enforced_revision: number; lag: number; connected: boolean; last_nack: { revision: number; error: string } | null }[];
}

describe("control stream", () => {
  let api: TestControl;
  let a: SimAgent;
  let b: SimAgent;
  let subnetA = "";
  let subnetB = "";
  const ipIn = (subnet: string, host: number) => subnet.replace(/\.0\/24$/, `.${host}`);

  beforeAll(async () => {
    api = await startTestControl("postgres");
    a = await joinSimAgent(api, "cell-a", "10.0.0.1");
    b = await joinSimAgent(api, "cell-b", "10.0.0.2");
    subnetA = (await a.client.acquireLease("10.0.0.1")).overlaySubnet;
    subnetB = (await b.client.acquireLease("10.0.0.2")).overlaySubnet;
    a.startSync();
    b.startSync();
  });

  afterAll(async () => {
    a?.close();
    b?.close();
    await api?.stop();
  });

  it("gives each cell a distinct lease, idempotent per underlay IP", async () => {
    expect(subnetA).toMatch(/^10\.255\.\d+\.0\/24$/);
    expect(subnetB).not.toBe(subnetA);
    expect((await a.client.acquireLease("10.0.0.1")).overlaySubnet).toBe(subnetA);
    await eventually(() => {
      expect(a.leases.size).toBe(2);
      expect(b.leases.size).toBe(2);
    });
    expect(a.received[0]?.kind).toBe("snapshot");
  });

  it("sends each cell only the policies of apps running on it, with tags", async () => {
    await a.client.registerInstance(instance("inst-a0", "app-a", ipIn(subnetA, 2)), "frontend");
    await b.client.registerInstance(instance("inst-b0", "app-b", ipIn(subnetB, 2)), "backend");
    await b.client.registerInstance(instance("inst-c0", "app-c", ipIn(subnetB, 3)), "other");
    await eventually(() => {
      expect([...a.instances.keys()]).toEqual(["inst-a0"]);
      expect([...b.instances.keys()].sort()).toEqual(["inst-b0", "inst-c0"]);
    });
    const res = await api.request("POST", "/networking/v1/external/policies", {
      body: { policies: [v1Policy("app-a", "app-b", 8080, 8090), v1Policy("app-x", "app-y")] },
    });
    expect(res.status).toBe(200);
    await eventually(() => {
      expect([...a.policies.keys()]).toEqual(["app-a|app-b|tcp|8080|8090"]);
      expect([...b.policies.keys()]).toEqual(["app-a|app-b|tcp|8080|8090"]);
    });
    const rule = [...b.policies.values()][0]!;
    expect(rule.sourceTag).toBeGreaterThan(0);
    expect(rule.destTag).toBeGreaterThan(0);
    expect(rule.sourceTag).not.toBe(rule.destTag);
    // The irrelevant policy (app-x -> app-y) reached neither cell.
    for (const agent of [a, b]) {
      for (const m of agent.received) {
        const names = [...(m.snapshot?.policies ?? []), ...(m.delta?.policiesAdded ?? [])].map(ruleKey);
        expect(names.some((n) => n.includes("app-x"))).toBe(false);
      }
    }
  });

  it("records a nack, does not resend that revision, and shows it in status", async () => {
    const before = b.received.length;
    const revisionOf = async (body: unknown) => {
      const res = await api.request("POST", "/networking/v1/external/policies", { body });
      return Number(res.headers["x-weft-revision"]);
    };
    // Fail whatever revision comes next on cell-b.
    const next = (await api.control.store.revision()) + 1;
    b.failRevisions.add(next);
    const rev = await revisionOf({ policies: [v1Policy("app-c", "app-b", 9000)] });
    expect(rev).toBe(next);
    await eventually(async () => {
      const status = (await api.request("GET", "/weft/v1/status")).json as StatusJson;
      const cellB = status.cells.find((c) => c.cell_id === "cell-b")!;
      expect(cellB.last_nack).toMatchObject({ revision: rev, error: `simulated failure at revision ${rev}` });
      expect(cellB.enforced_revision).toBeLessThan(rev);
    });
    b.failRevisions.clear();
    const later = await revisionOf({ policies: [v1Policy("app-c", "app-b", 9001)] });
    await eventually(async () => {
      const status = (await api.request("GET", "/weft/v1/status")).json as StatusJson;
      const cellB = status.cells.find((c) => c.cell_id === "cell-b")!;
      expect(cellB.enforced_revision).toBeGreaterThanOrEqual(later);
      expect(cellB.lag).toBe(0);
    });
    const revisions = b.received.slice(before).map((m) => m.revision);
    expect(revisions.filter((r) => r === rev)).toHaveLength(1);
  });

  it("resumes after a reconnect: an agent at the current revision gets an empty delta", async () => {
    await eventually(() => expect(b.enforced).toBe(api.control.plane.feed.state.revision));
    b.stopSync();
    const before = b.received.length;
    b.startSync();
    await eventually(() => expect(b.received.length).toBe(before + 1));
    const resumed = b.received[before]!;
    expect(resumed.kind).toBe("delta");
    expect(resumed.delta?.policiesAdded).toEqual([]);
    // An agent that is behind gets a fresh snapshot.
    a.stopSync();
    a.enforced = 1;
    const beforeA = a.received.length;
    a.startSync();
    await eventually(() => expect(a.received[beforeA]?.kind).toBe("snapshot"));
  });

  it("reports every cell in status with its enforced revision and lag", async () => {
    await eventually(async () => {
      const res = await api.request("GET", "/weft/v1/status");
      const status = res.json as StatusJson;
      expect(status.revision).toBe(await api.control.store.revision());
      expect(status.cells.map((c) => c.cell_id)).toEqual(["cell-a", "cell-b"]);
      for (const c of status.cells) {
        expect(c.connected).toBe(true);
        expect(c.lag).toBe(0);
      }
    });
  });
});
