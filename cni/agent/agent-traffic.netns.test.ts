// The seed's scenario through real agents, on the same cell and across cells alike: apps A, B and C,
// A->B allowed for TCP and UDP on a port range, A->C allowed for TCP, B->C rejected. Then removing
// the A->B policies cuts the connections they allowed, established ones included (TCP and UDP),
// without restarting anything. And a container's egress to a host outside the overlay is
// masqueraded: the outside host sees the cell's underlay IP, never the container's (once an ASG
// allows it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { attachContainer, removeDir, startTestAgent, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { openStream, probe, startServer } from "../../test/support/netns-probes.js";
import { v1Policy } from "../../test/support/plane.js";

interface Attached {
  readonly ns: Namespace;
  readonly ip: string;
}

const POLICIES = "/networking/v1/external/policies";

describe("policies through the agent, same cell and across cells", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  const agents: TestAgent[] = [];
  const cells: Cell[] = [];
  let a: Attached;
  const b: Attached[] = [];
  const c: Attached[] = [];
  const aToB = [v1Policy("app-a", "app-b", 8080, 8082, "tcp"), v1Policy("app-a", "app-b", 8080, 8082, "udp")];
  const aToC = v1Policy("app-a", "app-c", 9000, 9001, "tcp");

  const attach = (agent: TestAgent, id: string, app: string, index = 0): Promise<Attached> => attachContainer(fx, agent, id, app, index);

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 42 });
    api = await startTestControl("postgres");
    cells.push(await fx.addCell(), await fx.addCell());
    agents.push(await startTestAgent(api, cells[0]!, "cell-1"), await startTestAgent(api, cells[1]!, "cell-2"));
    // A on cell 1; one instance of B and of C on each cell: index 0 beside A, index 1 across.
    a = await attach(agents[0]!, "ctr-a", "app-a");
    for (const [i, agent] of agents.entries()) {
      b.push(await attach(agent, `ctr-b${i}`, "app-b", i));
      c.push(await attach(agent, `ctr-c${i}`, "app-c", i));
    }
    for (const x of b) await startServer(fx, x.ns, x.ip, { tcp: [8080, 8082, 8083], udp: [8080, 8082, 8083] });
    for (const x of c) await startServer(fx, x.ns, x.ip, { tcp: [9001] });
    const res = await api.request("POST", POLICIES, { body: { policies: [...aToB, aToC] } });
    if (res.status !== 200) throw new Error(`create policies: ${res.status} ${res.text}`);
  }, 180_000);

  afterAll(async () => {
    for (const ag of agents) await ag.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    for (const ag of agents) removeDir(ag.dir);
  });

  it("allows A->B (TCP and UDP, in the range only) and A->C, and rejects B->C, on the same cell and across", async () => {
    for (const [where, dst] of [["same cell", b[0]!], ["cross cell", b[1]!]] as const) {
      await eventually(async () => expect(await probe(fx, a.ns, "tcp", dst.ip, 8080), where).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
      await eventually(async () => expect(await probe(fx, a.ns, "udp", dst.ip, 8080), where).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
      expect(await probe(fx, a.ns, "tcp", dst.ip, 8082), where).toBe(`pong:${a.ip}`);
      expect(await probe(fx, a.ns, "udp", dst.ip, 8082), where).toBe(`pong:${a.ip}`);
      expect(await probe(fx, a.ns, "tcp", dst.ip, 8083), where).toMatch(/^error:/);
      expect(await probe(fx, a.ns, "udp", dst.ip, 8083), where).toMatch(/^error:/);
    }
    for (const [where, dst] of [["same cell", c[0]!], ["cross cell", c[1]!]] as const) {
      await eventually(async () => expect(await probe(fx, a.ns, "tcp", dst.ip, 9001), where).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
      // B->C has no policy: rejected from B on either cell.
      for (const src of b) expect(await probe(fx, src.ns, "tcp", dst.ip, 9001), where).toMatch(/^error:/);
    }
  });

  it("removing a policy cuts the connections it allowed, established ones too, at once", async () => {
    const streams = [
      await openStream(fx, a.ns, "tcp", b[0]!.ip, 8080),
      await openStream(fx, a.ns, "tcp", b[1]!.ip, 8080),
      await openStream(fx, a.ns, "udp", b[0]!.ip, 8080),
      await openStream(fx, a.ns, "udp", b[1]!.ip, 8080),
    ];
    const toC = await openStream(fx, a.ns, "tcp", c[1]!.ip, 9001);
    const res = await api.request("POST", `${POLICIES}/delete`, { body: { policies: aToB } });
    expect(res.status).toBe(200);
    await eventually(() => expect(streams.map((s) => s.closed())).toEqual([true, true, true, true]), { timeoutMs: 15_000, message: "streams cut" });
    for (const dst of b) {
      expect(await probe(fx, a.ns, "tcp", dst.ip, 8080)).toMatch(/^error:/);
      expect(await probe(fx, a.ns, "udp", dst.ip, 8080)).toMatch(/^error:/);
    }
    // The connection A->C was allowed by a policy still in place: untouched.
    const before = toC.lines.length;
    await eventually(() => expect(toC.lines.length).toBeGreaterThan(before + 2), { timeoutMs: 5_000 });
    expect(toC.closed()).toBe(false);
    expect(await probe(fx, a.ns, "tcp", c[0]!.ip, 9001)).toBe(`pong:${a.ip}`);
  });

  it("masquerades a container's egress to a host outside the overlay", async () => {
    const outside = await fx.addOutside();
    await startServer(fx, outside, outside.underlayIp, { tcp: [7000], udp: [7000] });
    // Egress beyond the overlay needs an app security group (default deny, as in CF).
    const asg = await api.request("POST", "/weft/v1/security-groups", {
      body: { name: "outside", rules: [{ protocol: "all", destination: `${outside.underlayIp}/32` }], globally_enabled: { running: true } },
    });
    expect(asg.status, asg.text).toBe(201);
    await eventually(async () => expect(await probe(fx, b[1]!.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[1]!.underlayIp}`), { timeoutMs: 15_000 });
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`);
    expect(await probe(fx, a.ns, "udp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`);
    expect(await probe(fx, b[1]!.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[1]!.underlayIp}`);
  });
});
