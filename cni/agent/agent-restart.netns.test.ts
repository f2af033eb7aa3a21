// `weft agent` restarted on a live cell during traffic: the kernel state is left in place when the
// agent stops (fail static), so a long-lived connection keeps flowing while no agent runs; a new
// agent started on the same state directory, with no join token (the cell's credentials are
// saved), takes over what is in the kernel without rewriting or duplicating it (every nft rule
// keeps its handle, and links, routes, neighbours and FDB entries are unchanged after a full
// observed reconcile); and a policy created afterwards is enforced.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { silentLogger } from "../../common/logger.js";
import { appMetadata, removeDir, runCni, startTestAgent, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { openStream, probe, startServer } from "../../test/support/netns-probes.js";
import { v1Policy } from "../../test/support/plane.js";
import { startAgent, type RunningAgent } from "./main.js";

interface Attached {
  readonly ns: Namespace;
  readonly ip: string;
}

const POLICIES = "/networking/v1/external/policies";

describe("weft agent restarted during traffic", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  const agents: TestAgent[] = [];
  let restarted: RunningAgent | undefined;
  let cell: Cell;
  let a: Attached;
  let b: Attached;
  let c: Attached;

  const attach = async (agent: TestAgent, id: string, app: string): Promise<Attached> => {
    const ns = await fx.addContainer();
    const res = await runCni("ADD", { socketPath: agent.socketPath, containerId: id, netns: ns.path, config: appMetadata(app) });
    if (res.code !== 0) throw new Error(`ADD ${id} failed: ${res.stdout}`);
    const ips = (res.json?.ips as { address: string }[] | undefined) ?? [];
    return { ns, ip: ips[0]!.address.split("/")[0]! };
  };

  /** Everything Weft programs into the cell, nft rules with their handles (a rewrite changes them). */
  const kernelState = async (): Promise<string> => {
    const parts = await Promise.all([
      fx.exec(cell, ["nft", "-a", "list", "table", "inet", "weft"]),
      fx.exec(cell, ["ip", "-o", "-d", "link", "show"]),
      fx.exec(cell, ["ip", "-4", "-o", "addr", "show"]),
      fx.exec(cell, ["ip", "route", "show"]),
      fx.exec(cell, ["ip", "neigh", "show", "nud", "permanent"]),
      fx.exec(cell, ["bridge", "fdb", "show", "dev", "weft-vtep"]),
    ]);
    // Counters and link statistics move with traffic; the objects themselves must not.
    return parts.join("\n---\n").replace(/counter packets \d+ bytes \d+/g, "counter");
  };

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 44 });
    api = await startTestControl("postgres");
    const [c1, c2] = [await fx.addCell(), await fx.addCell()];
    cell = c1;
    agents.push(await startTestAgent(api, c1, "cell-1"), await startTestAgent(api, c2, "cell-2"));
    a = await attach(agents[0]!, "ctr-a", "app-a");
    b = await attach(agents[1]!, "ctr-b", "app-b");
    c = await attach(agents[0]!, "ctr-c", "app-c");
    const mapped = await runCni("ADD", {
      socketPath: agents[0]!.socketPath,
      containerId: "ctr-m",
      netns: (await fx.addContainer()).path,
      config: { runtimeConfig: { ...appMetadata("app-m").runtimeConfig, portMappings: [{ hostPort: 18080, containerPort: 8080 }] } },
    });
    if (mapped.code !== 0) throw new Error(`ADD ctr-m failed: ${mapped.stdout}`);
    await startServer(fx, b.ns, b.ip, { tcp: [8080] });
    await startServer(fx, c.ns, c.ip, { tcp: [9001] });
    const res = await api.request("POST", POLICIES, { body: { policies: [v1Policy("app-a", "app-b", 8080)] } });
    if (res.status !== 200) throw new Error(`create policy: ${res.status} ${res.text}`);
    // ASG chains, verdict-map elements and a port mapping are taken over too.
    const asg = await api.request("POST", "/weft/v1/security-groups", {
      body: {
        name: "restart",
        rules: [
          { protocol: "tcp", destination: "10.0.0.0/8,192.168.1.1-192.168.1.9", ports: "443,8000-9000", log: true },
          { protocol: "icmp", destination: "0.0.0.0/0", type: -1, code: -1 },
        ],
        globally_enabled: { running: true },
      },
    });
    if (asg.status !== 201) throw new Error(`create ASG: ${asg.status} ${asg.text}`);
  }, 180_000);

  afterAll(async () => {
    await restarted?.stop().catch(() => undefined);
    for (const ag of agents) await ag.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    for (const ag of agents) removeDir(ag.dir);
  });

  it("keeps the connection, duplicates nothing, and enforces a new policy afterwards", async () => {
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", b.ip, 8080)).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
    const stream = await openStream(fx, a.ns, "tcp", b.ip, 8080);
    const old = agents[0]!;
    await old.running.agent.reconcile(true);
    const before = await kernelState();
    expect(before).toMatch(/jump asg-[0-9a-f]{16}/);
    expect(before).toMatch(/tcp \. 18080 : 10\.255\.\d+\.\d+ \. 8080/);

    await old.stop();
    // No agent on cell 1: the connection keeps flowing on what the kernel holds.
    let seen = stream.lines.length;
    await eventually(() => expect(stream.lines.length).toBeGreaterThan(seen + 3), { timeoutMs: 5_000 });
    expect(stream.closed()).toBe(false);

    // Same state directory and socket; no join token or API address: the saved credentials serve.
    const { joinToken: _token, apiUrl: _url, apiCaFile: _ca, ...config } = old.running.agent.config;
    restarted = await startAgent(Object.freeze({ ...config }), silentLogger);
    const agent = restarted.agent;
    await eventually(() => expect(agent.readiness()).toBeUndefined(), { timeoutMs: 15_000 });
    expect(agent.containers.all().map((r) => r.containerId).sort()).toEqual(["ctr-a", "ctr-c", "ctr-m"]);
    // A second full reconcile, observing the kernel, finds nothing to write.
    await agent.reconcile(true);
    await agent.reconcile(true);
    expect(await kernelState()).toBe(before);
    seen = stream.lines.length;
    await eventually(() => expect(stream.lines.length).toBeGreaterThan(seen + 3), { timeoutMs: 5_000 });
    expect(stream.closed()).toBe(false);

    // A policy created after the restart is enforced by the new agent (A and C are both on cell 1).
    expect(await probe(fx, a.ns, "tcp", c.ip, 9001)).toMatch(/^error:/);
    expect((await api.request("POST", POLICIES, { body: { policies: [v1Policy("app-a", "app-c", 9001)] } })).status).toBe(200);
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", c.ip, 9001)).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
    // And the new agent's CNI socket takes containers.
    const d = await attach({ ...old, socketPath: config.socketPath }, "ctr-d", "app-d");
    expect(d.ip).not.toBe(a.ip);
    expect(stream.closed()).toBe(false);
  });
});
