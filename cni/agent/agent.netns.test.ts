// The data plane end to end: two cells with real agents joined to a real control plane, containers
// attached by the real weft-cni binary, and policies made through the REST API. Default deny, a
// policy opens exactly its port range across cells, removing it closes it again; the destination
// sees the source container's IP; DEL is idempotent and works with the agent down.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { attachContainer, startTestAgent, runCni, appMetadata, removeDir, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { probe, startServer } from "../../test/support/netns-probes.js";
import { v1Policy } from "../../test/support/plane.js";

interface Attached {
  readonly ns: Namespace;
  readonly ip: string;
}

describe("weft agent + weft-cni on two cells", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  const agents: TestAgent[] = [];
  let a: Attached;
  let b: Attached;
  let c: Attached;

  const attach = (agent: TestAgent, id: string, app: string, index = 0): Promise<Attached> => attachContainer(fx, agent, id, app, index);

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 41 });
    api = await startTestControl("postgres");
    const [c1, c2] = [await fx.addCell(), await fx.addCell()];
    agents.push(await startTestAgent(api, c1, "cell-1"), await startTestAgent(api, c2, "cell-2"));
    a = await attach(agents[0]!, "ctr-a", "app-a");
    b = await attach(agents[1]!, "ctr-b", "app-b");
    c = await attach(agents[1]!, "ctr-c", "app-c");
    await startServer(fx, b.ns, b.ip, { tcp: [8080, 8085], udp: [8080] });
    await startServer(fx, c.ns, c.ip, { tcp: [8080] });
  }, 180_000);

  afterAll(async () => {
    for (const ag of agents) await ag.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    for (const ag of agents) removeDir(ag.dir);
  });

  it("returns a CNI result with the lease's address, the gateway and DNS", async () => {
    const res = await runCni("ADD", { socketPath: agents[0]!.socketPath, containerId: "ctr-a", netns: a.ns.path, config: appMetadata("app-a") });
    expect(res.code).toBe(0);
    expect(res.json).toMatchObject({
      cniVersion: "1.0.0",
      ips: [{ address: `${a.ip}/32`, gateway: "169.254.0.1" }],
      routes: [{ dst: "0.0.0.0/0", gw: "169.254.0.1" }],
      dns: { nameservers: ["169.254.0.2"], search: ["apps.internal"] },
    });
  });

  it("denies by default, and a policy opens exactly its range across cells; removing it closes it", async () => {
    expect(await probe(fx, a.ns, "tcp", b.ip, 8080)).toMatch(/^error:/);
    const policy = v1Policy("app-a", "app-b", 8080, 8082);
    expect((await api.request("POST", "/networking/v1/external/policies", { body: { policies: [policy] } })).status).toBe(200);
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", b.ip, 8080)).toBe(`pong:${a.ip}`), { timeoutMs: 15_000 });
    expect(await probe(fx, a.ns, "tcp", b.ip, 8085)).toMatch(/^error:/);
    expect(await probe(fx, a.ns, "udp", b.ip, 8080)).toMatch(/^error:/);
    expect(await probe(fx, a.ns, "tcp", c.ip, 8080)).toMatch(/^error:/);
    expect(await probe(fx, b.ns, "tcp", c.ip, 8080)).toMatch(/^error:/);
    await api.request("POST", "/networking/v1/external/policies/delete", { body: { policies: [policy] } });
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", b.ip, 8080)).toMatch(/^error:/), { timeoutMs: 15_000 });
  });

  it("DEL is idempotent and succeeds with the agent down", async () => {
    const tmp = await attach(agents[0]!, "ctr-tmp", "app-tmp");
    expect(tmp.ip).toMatch(/^10\.255\./);
    expect((await runCni("DEL", { socketPath: agents[0]!.socketPath, containerId: "ctr-tmp", netns: tmp.ns.path })).code).toBe(0);
    expect((await runCni("DEL", { socketPath: agents[0]!.socketPath, containerId: "ctr-tmp", netns: tmp.ns.path })).code).toBe(0);
    expect((await runCni("DEL", { socketPath: "/nonexistent/agent.sock", containerId: "ctr-x" })).code).toBe(0);
    const failed = await runCni("ADD", { socketPath: "/nonexistent/agent.sock", containerId: "ctr-y", netns: tmp.ns.path, config: appMetadata("app-y") });
    expect(failed.code).not.toBe(0);
    expect(failed.json).toMatchObject({ code: 11 });
  });

  it("answers bad configurations with the spec's error codes and leaves nothing behind", async () => {
    const sock = agents[0]!.socketPath;
    const ns = await fx.addContainer();
    expect((await runCni("ADD", { socketPath: sock, containerId: "bad-1", netns: ns.path, config: { cniVersion: "9.9.9", ...appMetadata("x") } })).json).toMatchObject({ code: 1 });
    expect((await runCni("ADD", { socketPath: sock, containerId: "bad-2", netns: ns.path, config: { type: "bridge", ...appMetadata("x") } })).json).toMatchObject({ code: 7 });
    expect((await runCni("ADD", { socketPath: sock, containerId: "bad-3", netns: ns.path })).json).toMatchObject({ code: 7 });
    expect((await runCni("ADD", { socketPath: sock, containerId: "bad/4", netns: ns.path, config: appMetadata("x") })).json).toMatchObject({ code: 4 });
    expect(agents[0]!.running.agent.containers.all().map((r) => r.containerId).sort()).toEqual(["ctr-a"]);
    expect(agents[0]!.running.agent.ipam().list().map((x) => x.containerId)).toEqual(["ctr-a"]);
  });
});
