// weft-cni in a conflist before the standard `portmap` and `bandwidth` plugins (Debian's
// containernetworking-plugins in /usr/lib/cni), driven the way libcni drives a chain: ADD weft,
// then portmap with weft's result as prevResult, then bandwidth with portmap's; DEL in reverse,
// each with the chain's final result. The chained plugins run in the cell's namespace (the host
// of the containers), weft-cni hands its work to the agent. A port mapping then delivers traffic
// from a host outside the overlay, through the cell's underlay IP, to the container: the overlay's
// ingress rejects by default, and admits such traffic because the cell marks connections DNATed to
// a container from outside the overlay as router traffic (ROUTER_MARK).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appMetadata, removeDir, runCni, startTestAgent, type CniOutcome, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { probe, startServer } from "../../test/support/netns-probes.js";
import { hostVethName } from "../kernel/names.js";

const PLUGINS = "/usr/lib/cni";
const NETWORK = { cniVersion: "1.0.0", name: "weft-chain" };
const PORT_MAPPINGS = [
  { hostPort: 18080, containerPort: 8080, protocol: "tcp" },
  { hostPort: 18081, containerPort: 8081, protocol: "udp" },
];
const BANDWIDTH = { ingressRate: 100_000_000, ingressBurst: 1_000_000 };

/** A standard plugin run as a runtime runs it: in the host's (the cell's) namespace. */
function runPlugin(cell: Cell, type: string, command: string, containerId: string, netns: string, config: Record<string, unknown>): Promise<CniOutcome> {
  return new Promise((resolve) => {
    const env = { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: "eth0", CNI_PATH: PLUGINS, PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" };
    const child = execFile("nsenter", [`--net=${cell.path}`, `${PLUGINS}/${type}`], { env, timeout: 60_000 }, (err, stdout) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, json, stdout });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(JSON.stringify({ ...NETWORK, type, ...config }));
  });
}

const hasPlugins = ["portmap", "bandwidth"].every((p) => existsSync(`${PLUGINS}/${p}`));

describe.skipIf(!hasPlugins)("weft-cni chained before portmap and bandwidth", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  let agent: TestAgent;
  let cell: Cell;
  let outside: Cell;
  let ctr: Namespace;

  const portmap = (command: string, prevResult: unknown) =>
    runPlugin(cell, "portmap", command, "ctr-pm", ctr.path, { capabilities: { portMappings: true }, snat: true, runtimeConfig: { portMappings: PORT_MAPPINGS }, prevResult });
  const bandwidth = (command: string, prevResult: unknown) =>
    runPlugin(cell, "bandwidth", command, "ctr-pm", ctr.path, { capabilities: { bandwidth: true }, runtimeConfig: { bandwidth: BANDWIDTH }, prevResult });
  const weft = (command: string, prevResult?: unknown) =>
    runCni(command, {
      socketPath: agent.socketPath,
      containerId: "ctr-pm",
      netns: ctr.path,
      config: { ...NETWORK, runtimeConfig: { ...appMetadata("app-pm").runtimeConfig, portMappings: PORT_MAPPINGS }, ...(prevResult ? { prevResult } : {}) },
    });

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 45 });
    api = await startTestControl("postgres");
    cell = await fx.addCell();
    outside = await fx.addOutside();
    agent = await startTestAgent(api, cell, "cell-pm");
    ctr = await fx.addContainer();
  }, 120_000);

  afterAll(async () => {
    await agent?.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    if (agent) removeDir(agent.dir);
  });

  it("ADDs through the chain, delivers port-mapped traffic from outside, and DELs in reverse", async () => {
    const added = await weft("ADD");
    expect(added.code, added.stdout).toBe(0);
    const ip = ((added.json?.ips as { address: string }[])[0]!.address).split("/")[0]!;
    const mapped = await portmap("ADD", added.json);
    expect(mapped.code, mapped.stdout).toBe(0);
    const shaped = await bandwidth("ADD", mapped.json);
    expect(shaped.code, shaped.stdout).toBe(0);
    const final = shaped.json;
    expect(final).toMatchObject({ cniVersion: "1.0.0", ips: [{ address: `${ip}/32` }] });

    // bandwidth shaped the host end weft created; portmap's DNAT points at weft's address.
    expect(await fx.exec(cell, ["tc", "qdisc", "show", "dev", hostVethName(ip)])).toMatch(/tbf/);
    expect(await fx.exec(cell, ["iptables-save", "-t", "nat"])).toContain(`${ip}:8080`);

    await startServer(fx, ctr, ip, { tcp: [8080], udp: [8081] });
    // From outside the overlay, through the cell's underlay IP: the container sees the caller.
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 18080)).toBe(`pong:${outside.underlayIp}`);
    expect(await probe(fx, outside, "udp", cell.underlayIp, 18081)).toBe(`pong:${outside.underlayIp}`);
    // Only the mapped ports: the container's other ports stay closed to the outside.
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 8080)).toMatch(/^error:/);

    // CHECK through the chain, then DEL in reverse order, each with the chain's result.
    expect((await weft("CHECK", final)).code).toBe(0);
    for (const [name, del] of [["bandwidth", () => bandwidth("DEL", final)], ["portmap", () => portmap("DEL", final)], ["weft", () => weft("DEL", final)]] as const) {
      const res = await del();
      expect(res.code, `${name} DEL: ${res.stdout}`).toBe(0);
    }
    expect(await fx.exec(cell, ["iptables-save", "-t", "nat"])).not.toContain(ip);
    expect(await fx.exec(cell, ["ip", "-o", "link", "show"])).not.toContain(hostVethName(ip));
    expect(agent.running.agent.ipam().list()).toEqual([]);
    expect(await probe(fx, outside, "tcp", cell.underlayIp, 18080)).toMatch(/^error:/);
    // A second DEL of the whole chain is fine too (the runtime may retry).
    for (const del of [() => bandwidth("DEL", final), () => portmap("DEL", final), () => weft("DEL", final)]) expect((await del()).code).toBe(0);
  });
});
