// The data plane's failure cases through the real weft-cni binary and a real agent: each CNI error
// code for bad input (1, 4, 6, 7); an ADD whose plugin is killed halfway, after which GC with the
// runtime's valid attachments leaves nothing (no interface, address file or rule); DEL twice; DEL
// with the agent down (and GC after its restart cleaning up); a cell whose /24 is full, where the
// ADD's error names the lease; and GC removing exactly the containers the runtime no longer lists.
import { execFile, spawn } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { WEFT_CNI, appMetadata, removeDir, runCni, startTestAgent, type CniOutcome, type TestAgent } from "../../test/support/agents.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { hostVethName } from "../kernel/names.js";

/** weft-cni with a raw stdin and environment, for inputs runCni cannot express. */
function runRaw(env: Record<string, string>, stdin: string): Promise<CniOutcome> {
  return new Promise((resolve) => {
    const child = execFile(WEFT_CNI, [], { env: { CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni", ...env }, timeout: 60_000 }, (err, stdout) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, json, stdout });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

describe("weft agent + weft-cni failure cases", () => {
  let fx: NetnsFixture;
  let api: TestControl;
  let cell: Cell;
  let agent: TestAgent;
  const stopped: TestAgent[] = [];

  // The agent's own socket (startTestAgent's socketPath names its temp dir, not an override).
  const sock = (): string => agent.running.agent.config.socketPath;
  const add = async (id: string, app: string, ns?: Namespace): Promise<{ ns: Namespace; ip: string; res: CniOutcome }> => {
    const target = ns ?? (await fx.addContainer());
    const res = await runCni("ADD", { socketPath: sock(), containerId: id, netns: target.path, config: appMetadata(app) });
    const ips = (res.json?.ips as { address: string }[] | undefined) ?? [];
    return { ns: target, ip: ips[0]?.address.split("/")[0] ?? "", res };
  };
  const gc = (valid: readonly string[]) =>
    runCni("GC", { socketPath: sock(), containerId: "gc", config: { cniVersion: "1.1.0", "cni.dev/valid-attachments": valid.map((id) => ({ containerID: id, ifname: "eth0" })) } });

  /** What the cell holds for an address: its host veth, its IPAM file, its place in the nft sets. */
  const leftovers = async (ip: string, containerId: string): Promise<string[]> => {
    const out: string[] = [];
    const links = await fx.exec(cell, ["ip", "-o", "link", "show"]);
    if (links.includes(`${hostVethName(ip)}@`) || links.includes(`${hostVethName(ip)}:`)) out.push("host veth");
    const sets = await fx.exec(cell, ["nft", "list", "table", "inet", "weft"]);
    if (new RegExp(`\\b${ip.replace(/\./g, "\\.")}\\b`).test(sets)) out.push("nft element");
    if (agent.running.agent.ipam().list().some((a) => a.ip === ip || a.containerId === containerId)) out.push("address file");
    if (agent.running.agent.containers.all().some((r) => r.containerId === containerId)) out.push("container record");
    return out;
  };

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 43 });
    api = await startTestControl("postgres");
    cell = await fx.addCell();
    agent = await startTestAgent(api, cell, "cell-f");
  }, 120_000);

  afterAll(async () => {
    for (const ag of [agent, ...stopped]) await ag?.stop().catch(() => undefined);
    await fx?.destroy();
    await api?.stop();
    for (const ag of [agent, ...stopped]) if (ag) removeDir(ag.dir);
  });

  it("answers bad input with the spec's codes (1, 4, 6, 7) and keeps nothing", async () => {
    const ns = await fx.addContainer();
    const sock = agent.socketPath;
    const base = { cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: sock, ...appMetadata("bad") };
    const env = { CNI_COMMAND: "ADD", CNI_CONTAINERID: "bad-x", CNI_NETNS: ns.path };
    expect((await runRaw(env, JSON.stringify({ ...base, cniVersion: "0.1.0" }))).json).toMatchObject({ code: 1 });
    expect((await runRaw({ ...env, CNI_CONTAINERID: "bad/4" }, JSON.stringify(base))).json).toMatchObject({ code: 4 });
    expect((await runRaw({ ...env, CNI_NETNS: "relative/path" }, JSON.stringify(base))).json).toMatchObject({ code: 4 });
    expect((await runRaw({ ...env, CNI_IFNAME: "has/slash" }, JSON.stringify(base))).json).toMatchObject({ code: 4 });
    // The plugin needs agentSocket from the JSON, so a config it cannot decode must still be answered.
    const undecodable = await runRaw(env, `{"cniVersion":"1.0.0","agentSocket":"${sock}", not json`);
    expect(undecodable.code).not.toBe(0);
    expect(undecodable.json).toMatchObject({ code: 6 });
    expect((await runRaw(env, JSON.stringify({ ...base, type: "bridge" }))).json).toMatchObject({ code: 7 });
    expect((await runRaw(env, JSON.stringify({ ...base, runtimeConfig: {} }))).json).toMatchObject({ code: 7 });
    expect((await runRaw(env, JSON.stringify({ ...base, runtimeConfig: { ...base.runtimeConfig, portMappings: [{ hostPort: 0, containerPort: 80 }] } }))).json).toMatchObject({ code: 7 });
    expect(agent.running.agent.containers.all()).toEqual([]);
    expect(agent.running.agent.ipam().list()).toEqual([]);
  });

  it("an ADD killed halfway leaves nothing once GC runs with the runtime's valid attachments", async () => {
    const keep = await add("ctr-keep", "app-keep");
    expect(keep.res.code).toBe(0);
    const ns = await fx.addContainer();
    const config = JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: agent.socketPath, ...appMetadata("app-killed") });
    const child = spawn(WEFT_CNI, [], { env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: "ctr-killed", CNI_NETNS: ns.path, CNI_IFNAME: "eth0", CNI_PATH: "/usr/lib/cni" }, stdio: ["pipe", "ignore", "ignore"] });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdin.end(config);
    // Halfway: the agent has allocated and registered the container but the plugin has no answer yet.
    await eventually(() => expect(agent.running.agent.containers.get("ctr-killed", "eth0")).toBeDefined(), { timeoutMs: 10_000, intervalMs: 1 });
    child.kill("SIGKILL");
    expect(await exited).toBeNull();
    const ip = agent.running.agent.containers.get("ctr-killed", "eth0")?.ip ?? "";
    expect(ip).not.toBe("");
    await eventually(
      async () => {
        expect((await gc(["ctr-keep"])).code).toBe(0);
        expect(await leftovers(ip, "ctr-killed")).toEqual([]);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(await leftovers(keep.ip, "ctr-keep")).toEqual(["host veth", "nft element", "address file", "container record"]);
  });

  it("GC removes the containers the runtime no longer lists, and only those", async () => {
    const x = await add("ctr-gc-x", "app-gc");
    const y = await add("ctr-gc-y", "app-gc");
    expect([x.res.code, y.res.code]).toEqual([0, 0]);
    expect((await gc(["ctr-keep", "ctr-gc-x"])).code).toBe(0);
    expect(await leftovers(y.ip, "ctr-gc-y")).toEqual([]);
    expect(await leftovers(x.ip, "ctr-gc-x")).toHaveLength(4);
    expect(agent.running.agent.containers.all().map((r) => r.containerId).sort()).toEqual(["ctr-gc-x", "ctr-keep"]);
  });

  it("DEL twice succeeds both times and leaves nothing", async () => {
    const t = await add("ctr-del", "app-del");
    expect(t.res.code).toBe(0);
    for (let i = 0; i < 2; i++) expect((await runCni("DEL", { socketPath: agent.socketPath, containerId: "ctr-del", netns: t.ns.path })).code).toBe(0);
    expect(await leftovers(t.ip, "ctr-del")).toEqual([]);
  });

  it("names the full lease in the ADD's error, and leaves nothing behind", async () => {
    const ipam = agent.running.agent.ipam();
    const dir = join(agent.running.agent.config.stateDir, "ipam", ipam.subnet.replace("/", "_"));
    const base = ipam.subnet.split("/")[0]!.split(".").slice(0, 3).join(".");
    const taken = new Set(ipam.list().map((a) => a.ip));
    // The cell's /24 is full: every free address is held (as the IPAM's own files) by someone else.
    const fillers: string[] = [];
    for (let n = 1; n <= 254; n++) {
      const ip = `${base}.${n}`;
      if (taken.has(ip)) continue;
      writeFileSync(join(dir, ip), `filler-${n}\neth0\n`, { flag: "wx" });
      fillers.push(ip);
    }
    try {
      const full = await add("ctr-full", "app-full");
      expect(full.res.code).not.toBe(0);
      expect(full.res.json).toMatchObject({ code: 100 });
      expect(String(full.res.json?.msg)).toContain(ipam.subnet);
      expect(agent.running.agent.containers.get("ctr-full", "eth0")).toBeUndefined();
      expect(ipam.list().filter((a) => a.containerId === "ctr-full")).toEqual([]);
    } finally {
      for (const ip of fillers) rmSync(join(dir, ip), { force: true });
    }
  });

  it("DEL succeeds with the agent down; after a restart GC removes what the DEL could not", async () => {
    const t = await add("ctr-down", "app-down");
    expect(t.res.code).toBe(0);
    const { stateDir, socketPath } = agent.running.agent.config;
    await agent.stop();
    stopped.push(agent);
    expect((await runCni("DEL", { socketPath, containerId: "ctr-down", netns: t.ns.path })).code).toBe(0);
    // A second DEL with the agent down, and an ADD, which must fail rather than pretend.
    expect((await runCni("DEL", { socketPath, containerId: "ctr-down", netns: t.ns.path })).code).toBe(0);
    const refused = await runCni("ADD", { socketPath, containerId: "ctr-new", netns: t.ns.path, config: appMetadata("app-down") });
    expect(refused.json).toMatchObject({ code: 11 });
    agent = await startTestAgent(api, cell, "cell-f", { stateDir, socketPath });
    expect((await gc(["ctr-keep", "ctr-gc-x"])).stdout).toBe("");
    expect(await leftovers(t.ip, "ctr-down")).toEqual([]);
    expect(agent.running.agent.containers.all().map((r) => r.containerId).sort()).toEqual(["ctr-gc-x", "ctr-keep"]);
  });
});
