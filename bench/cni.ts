// bench:cni — CNI ADD until ready, p50/p99 over 100 containers on one cell, beside the standard
// `bridge` + `host-local` plugins in the same run.
//
// Ours: a real control (PostgreSQL) and a real `weft agent` for one cell namespace; each sample is
// one run of the real weft-cni binary (fork + exec + wait), as a runtime runs it, into a fresh
// container namespace. weft-cni exits 0 only when the container is registered with control, the
// revision that registered it is enforced in the cell's kernel and its certificate is issued, so
// the time is "ADD until ready", all work included. The peer: `nsenter --net=<peer host> bridge`
// with host-local IPAM into a fresh namespace, as reference/peer-figures.md section C measured it
// (the nsenter is in the peer's time, not ours: weft-cni runs in the host's namespace, and the agent
// enters the cell's). The two are interleaved, one sample each per container, so machine load
// falls on both alike. Namespace creation is not timed. Everything (namespaces, the agent, control
// and its database, temp dirs) is removed at the end, also when the run fails or is interrupted.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { WEFT_CNI, appMetadata, removeDir, startTestAgent, type TestAgent } from "../test/support/agents.js";
import { startTestControl, type TestControl } from "../test/support/control.js";
import { createNetnsFixture, type Namespace, type NetnsFixture } from "../test/support/netns-fixture.js";

const here = dirname(fileURLToPath(import.meta.url));
const CONTAINERS = Number(process.env.BENCH_CNI_CONTAINERS ?? 100);
const WARMUP = 3;
const PEER = "bridge+host-local";

interface Run {
  readonly ms: number;
  readonly code: number;
  readonly stdout: string;
}

/** fork + exec + wait of one plugin, timed around the whole thing. */
function timed(file: string, args: readonly string[], env: Record<string, string>, stdin: string): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = execFile(file, [...args], { env, timeout: 60_000 }, (err, stdout) => {
      const ms = performance.now() - t0;
      resolve({ ms, code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout });
    });
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(stdin);
  });
}

const cniEnv = (command: string, containerId: string, netns: string): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: containerId,
  CNI_NETNS: netns,
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
  PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
});

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

const round = (n: number): number => Math.round(n * 100) / 100;

async function main(): Promise<void> {
  let fx: NetnsFixture | undefined;
  let api: TestControl | undefined;
  let agent: TestAgent | undefined;
  const peerDir = mkdtempSync(join(tmpdir(), "weft-bench-cni-"));
  const cleanup = async (): Promise<void> => {
    await agent?.stop().catch(() => undefined);
    await fx?.destroy().catch((err: unknown) => console.error("netns cleanup:", err));
    await api?.stop().catch(() => undefined);
    if (agent) removeDir(agent.dir);
    rmSync(peerDir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    fx = await createNetnsFixture({ subnet: 77 });
    api = await startTestControl("postgres");
    const cell = await fx.addCell();
    agent = await startTestAgent(api, cell, "bench-cell", { reconcileEveryMs: 30_000 });
    const peerHost = await fx.addContainer();
    const peerConfig = JSON.stringify({
      cniVersion: "1.0.0",
      name: "wtbench",
      type: "bridge",
      bridge: "wtbr0",
      isGateway: true,
      ipam: { type: "host-local", subnet: "10.244.0.0/16", dataDir: join(peerDir, "ipam") },
    });
    const ours = (ns: Namespace, i: number): Promise<Run> =>
      timed(WEFT_CNI, [], cniEnv("ADD", `bench-${i}`, ns.path), JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: agent!.socketPath, ...appMetadata(`bench-app-${i % 10}`, i) }));
    const peer = (ns: Namespace, i: number): Promise<Run> =>
      timed("nsenter", [`--net=${peerHost.path}`, "/usr/lib/cni/bridge"], cniEnv("ADD", `peer-${i}`, ns.path), peerConfig);

    const oursMs: number[] = [];
    const peerMs: number[] = [];
    for (let i = 0; i < WARMUP + CONTAINERS; i++) {
      const [a, b] = [await fx.addContainer(), await fx.addContainer()];
      // Alternate which goes first, so neither always runs right after namespace creation.
      const pair = i % 2 === 0 ? [await ours(a, i), await peer(b, i)] : (([y, x]) => [x, y])([await peer(b, i), await ours(a, i)]);
      const [o, p] = pair as [Run, Run];
      if (o.code !== 0) throw new Error(`weft-cni ADD ${i} failed (${o.code}): ${o.stdout}`);
      if (p.code !== 0) throw new Error(`bridge ADD ${i} failed (${p.code}): ${p.stdout}`);
      if (i < WARMUP) continue;
      oursMs.push(o.ms);
      peerMs.push(p.ms);
    }
    oursMs.sort((x, y) => x - y);
    peerMs.sort((x, y) => x - y);
    const rows = [50, 99].map((p) => {
      const o = percentile(oursMs, p);
      const q = percentile(peerMs, p);
      return { metric: `add_ready_p${p}_ms`, unit: "ms", ours: round(o), peer: PEER, peerValue: round(q), ratio: round(o / q) };
    });
    console.log(`bench:cni  ${CONTAINERS} containers on one cell (real control on PostgreSQL, real agent, weft-cni binary); load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(`${"metric".padEnd(18)}${"ours".padStart(10)}${PEER.padStart(22)}${"ratio".padStart(9)}`);
    for (const r of rows) console.log(`${r.metric.padEnd(18)}${r.ours.toFixed(2).padStart(10)}${r.peerValue.toFixed(2).padStart(22)}${r.ratio.toFixed(2).padStart(9)}`);
    console.log(`goal: p50 <= 60 ms (${rows[0]!.ours <= 60 ? "met" : "missed"}), p99 <= 150 ms (${rows[1]!.ours <= 150 ? "met" : "missed"})`);
    const out = join(here, "..", "..", "bench", "results", "cni.json");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ bench: "cni", containers: CONTAINERS, loadAverage: round(loadavg()[0]!), rows }, null, 2)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
