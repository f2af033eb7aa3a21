// The cell edge through real agents, real weft-cni, real PostgreSQL and the real kernel: app
// security groups (ASGs) on egress to an "outside" host beyond the cells, NetIn port mappings
// without the portmap plugin, and host protection.
//   - A container reaches nothing outside until an ASG allows it; binding applies to the running
//     container without a restart (and shows in status), unbinding blocks again. TCP, UDP and ICMP
//     (type -1 = any) are allowed separately; a port range works.
//   - Staging containers get the staging set, running ones the running set.
//   - A wide-open ASG does not let B reach C over the overlay, on the same cell or across.
//   - A port mapping delivers router traffic from the underlay; the container sees the router.
//   - A container cannot reach the agent's or control's ports on its cell (or anything else on the
//     host but configured services) and can resolve DNS through 169.254.0.2.
//   - log:true rules log accepted connections with the app, space and org in the prefix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { appMetadata, removeDir, runCni, startTestAgent, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { probe, startServer } from "../../test/support/netns-probes.js";
import { v1Policy } from "../../test/support/plane.js";

const BASE = "/weft/v1/security-groups";
const HOST_SERVICE_PORT = 4480;

interface Attached {
  readonly ns: Namespace;
  readonly ip: string;
}

// A DNS server on the cell's DNS address answering every A query with 10.9.9.9 (UDP and TCP).
const DNS_SERVER = `
const dns2 = require("dns2");
const s = dns2.createServer({ udp: true, tcp: true, handle: (req, send) => {
  const r = dns2.Packet.createResponseFromRequest(req);
  const q = req.questions[0];
  r.answers.push({ name: q.name, type: dns2.Packet.TYPE.A, class: dns2.Packet.CLASS.IN, ttl: 0, address: "10.9.9.9" });
  send(r);
} });
s.listen({ udp: { port: 53, address: "169.254.0.2" }, tcp: { port: 53, address: "169.254.0.2" } }).then(() => console.log("ready"));`;

describe("app security groups, port mappings and host protection through real agents", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  const agents: TestAgent[] = [];
  const cells: Cell[] = [];
  let outside: Cell;
  let a: Attached;
  let staging: Attached;
  let b: Attached;
  const c: Attached[] = [];
  let mapped: Attached;

  const attach = async (agent: TestAgent, id: string, app: string, opts: { space?: string; lifecycle?: string; portMappings?: unknown[]; index?: number } = {}): Promise<Attached> => {
    const ns = await fx.addContainer();
    const meta = appMetadata(app, opts.index ?? 0).runtimeConfig.metadata;
    const config = {
      runtimeConfig: {
        metadata: { ...meta, space_id: opts.space ?? "space-1", ...(opts.lifecycle ? { lifecycle: opts.lifecycle } : {}) },
        ...(opts.portMappings ? { portMappings: opts.portMappings } : {}),
      },
    };
    const res = await runCni("ADD", { socketPath: agent.socketPath, containerId: id, netns: ns.path, config });
    if (res.code !== 0) throw new Error(`ADD ${id} failed: ${res.stdout}`);
    return { ns, ip: (res.json?.ips as { address: string }[])[0]!.address.split("/")[0]! };
  };

  const ping = async (from: Namespace, ip: string): Promise<boolean> =>
    fx.exec(from, ["ping", "-c", "1", "-W", "1", ip]).then(
      () => true,
      () => false,
    );

  const createGroup = async (name: string, rules: unknown[], globally: { running?: boolean; staging?: boolean } = {}): Promise<string> => {
    const res = await api.request("POST", BASE, { body: { name, rules, globally_enabled: globally } });
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${res.text}`);
    return (res.json as { guid: string }).guid;
  };

  const change = async (method: string, path: string, body?: unknown): Promise<number> => {
    const res = await api.request(method, path, body === undefined ? {} : { body });
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return Number(res.headers["x-weft-revision"] ?? 0);
  };

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 47 });
    api = await startTestControl("postgres");
    cells.push(await fx.addCell(), await fx.addCell());
    outside = await fx.addOutside();
    const hostServices = [{ ip: cells[0]!.underlayIp, protocol: "tcp" as const, port: HOST_SERVICE_PORT }];
    agents.push(await startTestAgent(api, cells[0]!, "cell-asg-1", { hostServices }), await startTestAgent(api, cells[1]!, "cell-asg-2"));
    a = await attach(agents[0]!, "ctr-a", "app-a");
    staging = await attach(agents[0]!, "ctr-s", "app-s", { lifecycle: "staging" });
    b = await attach(agents[0]!, "ctr-b", "app-b", { space: "space-2" });
    c.push(await attach(agents[0]!, "ctr-c0", "app-c", { space: "space-2" }), await attach(agents[1]!, "ctr-c1", "app-c", { space: "space-2", index: 1 }));
    mapped = await attach(agents[0]!, "ctr-m", "app-m", { space: "space-3", portMappings: [{ hostPort: 18080, containerPort: 8080 }, { hostPort: 18081, containerPort: 8081, protocol: "udp" }] });
    await startServer(fx, outside, outside.underlayIp, { tcp: [7000, 7001, 7005, 7006], udp: [7000] });
    for (const x of c) await startServer(fx, x.ns, x.ip, { tcp: [8080] });
    await startServer(fx, mapped.ns, mapped.ip, { tcp: [8080, 8082], udp: [8081] });
  }, 240_000);

  afterAll(async () => {
    for (const ag of agents) await ag.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    for (const ag of agents) removeDir(ag.dir);
  });

  it("blocks egress until an ASG allows it; binding applies to running containers without a restart, unbinding blocks again", async () => {
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);
    const guid = await createGroup("outside-tcp-7000", [{ protocol: "tcp", destination: `${outside.underlayIp}/32`, ports: "7000" }]);
    // Not bound to space-1 yet: still blocked.
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);
    const bound = await change("POST", `${BASE}/${guid}/relationships/running_spaces`, { data: [{ guid: "space-1" }] });
    // The change is visible in status: every cell enforces its revision.
    await eventually(
      async () => {
        const status = (await api.request("GET", "/weft/v1/status")).json as { cells: { cell_id: string; enforced_revision: number }[] };
        for (const id of ["cell-asg-1", "cell-asg-2"]) expect(status.cells.find((x) => x.cell_id === id)?.enforced_revision, id).toBeGreaterThanOrEqual(bound);
      },
      { timeoutMs: 15_000, message: "both cells enforce the binding" },
    );
    // Allowed, masqueraded to the cell's underlay IP; only TCP to 7000.
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`);
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7001)).toMatch(/^error:/);
    expect(await probe(fx, a.ns, "udp", outside.underlayIp, 7000)).toMatch(/^error:/);
    expect(await ping(a.ns, outside.underlayIp)).toBe(false);
    // Another space and a staging container of the same space are not covered by a running binding.
    expect(await probe(fx, b.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);
    expect(await probe(fx, staging.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);

    await change("DELETE", `${BASE}/${guid}/relationships/running_spaces/space-1`);
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/), { timeoutMs: 10_000 });
    await change("DELETE", `${BASE}/${guid}`);
  });

  it("allows TCP, UDP and ICMP separately, and a port range", async () => {
    const guid = await createGroup("outside-each", []);
    await change("POST", `${BASE}/${guid}/relationships/running_spaces`, { data: [{ guid: "space-1" }] });
    const dest = outside.underlayIp;
    const set = (rules: unknown[]) => change("PATCH", `${BASE}/${guid}`, { rules });

    await set([{ protocol: "udp", destination: dest, ports: "7000" }]);
    await eventually(async () => expect(await probe(fx, a.ns, "udp", dest, 7000)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    expect(await probe(fx, a.ns, "tcp", dest, 7000)).toMatch(/^error:/);
    expect(await ping(a.ns, dest)).toBe(false);

    // ICMP "any" (type -1, code -1): the rule that broke container creation in CF.
    await set([{ protocol: "icmp", destination: `${dest}-${dest}`, type: -1, code: -1 }]);
    await eventually(async () => expect(await ping(a.ns, dest)).toBe(true), { timeoutMs: 10_000 });
    expect(await probe(fx, a.ns, "tcp", dest, 7000)).toMatch(/^error:/);
    // A container added now, with an ICMP-any set in place, is created fine and gets it.
    const late = await attach(agents[0]!, "ctr-a2", "app-a", { index: 1 });
    expect(await ping(late.ns, dest)).toBe(true);
    // ICMP echo only (type 8 code 0) still allows ping; a different type does not.
    await set([{ protocol: "icmp", destination: dest, type: 13, code: 0 }]);
    await eventually(async () => expect(await ping(a.ns, dest)).toBe(false), { timeoutMs: 10_000 });
    await set([{ protocol: "icmp", destination: dest, type: 8, code: 0 }]);
    await eventually(async () => expect(await ping(a.ns, dest)).toBe(true), { timeoutMs: 10_000 });

    await set([{ protocol: "tcp", destination: "10.0.0.0/8", ports: "7001-7005" }]);
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", dest, 7001)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    expect(await probe(fx, a.ns, "tcp", dest, 7005)).toBe(`pong:${cells[0]!.underlayIp}`);
    expect(await probe(fx, a.ns, "tcp", dest, 7000)).toMatch(/^error:/);
    expect(await probe(fx, a.ns, "tcp", dest, 7006)).toMatch(/^error:/);
    expect(await probe(fx, a.ns, "udp", dest, 7000)).toMatch(/^error:/);
    expect(await ping(a.ns, dest)).toBe(false);
    await change("DELETE", `${BASE}/${guid}`);
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", dest, 7001)).toMatch(/^error:/), { timeoutMs: 10_000 });
  });

  it("gives staging containers the staging set and running containers the running set", async () => {
    const guid = await createGroup("staging-default", [{ protocol: "tcp", destination: outside.underlayIp, ports: "7000" }], { staging: true });
    await eventually(async () => expect(await probe(fx, staging.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);
    // Flipped to a running default: the other way round.
    await change("PATCH", `${BASE}/${guid}`, { globally_enabled: { running: true, staging: false } });
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    expect(await probe(fx, staging.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);
    await change("DELETE", `${BASE}/${guid}`);
  });

  it("a wide-open ASG does not let B reach C over the overlay, same cell or across", async () => {
    const guid = await createGroup("wide-open", [{ protocol: "all", destination: "0.0.0.0/0" }], { running: true });
    await eventually(async () => expect(await probe(fx, b.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    for (const dst of c) expect(await probe(fx, b.ns, "tcp", dst.ip, 8080), dst.ip).toMatch(/^error:/);
    // A policy opens it, as ever.
    const res = await api.request("POST", "/networking/v1/external/policies", { body: { policies: [v1Policy("app-b", "app-c", 8080, 8080, "tcp")] } });
    expect(res.status).toBe(200);
    for (const dst of c) await eventually(async () => expect(await probe(fx, b.ns, "tcp", dst.ip, 8080)).toBe(`pong:${b.ip}`), { timeoutMs: 10_000 });
    await api.request("POST", "/networking/v1/external/policies/delete", { body: { policies: [v1Policy("app-b", "app-c", 8080, 8080, "tcp")] } });
    await change("DELETE", `${BASE}/${guid}`);
  });

  it("delivers port-mapped router traffic from the underlay to the container, which sees the router", async () => {
    const cell = cells[0]!;
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 18080)).toBe(`pong:${outside.underlayIp}`);
    expect(await probe(fx, outside, "udp", cell.underlayIp, 18081)).toBe(`pong:${outside.underlayIp}`);
    // Only the mappings: the container's own address and its unmapped port stay closed.
    expect(await probe(fx, outside, "tcp", mapped.ip, 8080)).toMatch(/^error:/);
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 8082)).toMatch(/^error:/);
    // Mappings go with the container.
    const del = await runCni("DEL", { socketPath: agents[0]!.socketPath, containerId: "ctr-m", netns: mapped.ns.path });
    expect(del.code, del.stdout).toBe(0);
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 18080)).toMatch(/^error:/);
  });

  it("keeps containers away from the cell host except DNS and configured services, even with a wide-open ASG", async () => {
    const cell = cells[0]!;
    const guid = await createGroup("wide-open-host", [{ protocol: "all", destination: "0.0.0.0/0" }], { running: true });
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cell.underlayIp}`), { timeoutMs: 10_000 });
    // Stand-ins for control (4003) and the agent (4005) listening on the cell, and a host service.
    await startServer(fx, cell, "0.0.0.0", { tcp: [4003, 4005, HOST_SERVICE_PORT], udp: [4005] });
    for (const target of [cell.underlayIp, "169.254.0.1", "169.254.0.2"]) {
      for (const port of [4003, 4005]) expect(await probe(fx, a.ns, "tcp", target, port), `${target}:${port}`).toMatch(/^error:/);
      expect(await probe(fx, a.ns, "udp", target, 4005), `${target}:4005/udp`).toMatch(/^error:/);
    }
    expect(await ping(a.ns, cell.underlayIp)).toBe(false);
    // The configured host service is reachable (the cell sees the container's own address).
    expect(await probe(fx, a.ns, "tcp", cell.underlayIp, HOST_SERVICE_PORT)).toBe(`pong:${a.ip}`);
    // DNS on 169.254.0.2, UDP and TCP.
    const dns = fx.spawn(cell, [process.execPath, "-e", DNS_SERVER]);
    let out = "";
    dns.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(() => expect(out).toContain("ready"), { timeoutMs: 10_000 });
    expect((await fx.exec(a.ns, ["dig", "+short", "+time=2", "+tries=1", "@169.254.0.2", "backend.apps.internal"])).trim()).toBe("10.9.9.9");
    expect((await fx.exec(a.ns, ["dig", "+short", "+tcp", "+time=2", "+tries=1", "@169.254.0.2", "backend.apps.internal"])).trim()).toBe("10.9.9.9");
    await change("DELETE", `${BASE}/${guid}`);
  });

  it("logs accepted connections of a log:true rule with the app, space and org, rate-limited", async () => {
    const guid = await createGroup("logged", [{ protocol: "tcp", destination: outside.underlayIp, ports: "7000", log: true }]);
    await change("POST", `${BASE}/${guid}/relationships/running_spaces`, { data: [{ guid: "space-1" }] });
    await eventually(async () => expect(await probe(fx, a.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cells[0]!.underlayIp}`), { timeoutMs: 10_000 });
    const ruleset = await fx.exec(cells[0]!, ["nft", "list", "table", "inet", "weft"]);
    expect(ruleset).toMatch(/limit rate 10\/second burst 20 packets log prefix "weft-egress-allowed app=app-a space=space-1 org=org-1 "/);
    await change("DELETE", `${BASE}/${guid}`);
  });
});
