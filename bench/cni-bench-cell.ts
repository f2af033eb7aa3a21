// What bench:cni and bench:asg share: one cell namespace with a real control (PostgreSQL) and a
// real `weft agent`, the real weft-cni binary timed per ADD beside the standard `bridge` +
// `host-local` plugins (run with nsenter in a peer host namespace, as reference/peer-figures.md
// section C measured them), and removal of everything (namespaces, agent, control and its
// database, temp dirs) at the end, also when the run fails or is interrupted.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WEFT_CNI, appMetadata, removeDir, startTestAgent, type TestAgent } from "../test/support/agents.js";
import type { AgentConfig } from "../cni/agent/agent-config.js";
import { startTestControl, type TestControl } from "../test/support/control.js";
import { createNetnsFixture, type Namespace, type NetnsFixture } from "../test/support/netns-fixture.js";

export interface Run {
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

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export const round = (n: number): number => Math.round(n * 100) / 100;

export interface BenchCell {
  readonly fx: NetnsFixture;
  readonly api: TestControl;
  readonly agent: TestAgent;
  readonly cell: Namespace;
  /** weft-cni ADD of container `id` (app bench-app-(i % 10), index i) into `ns`. */
  readonly ours: (ns: Namespace, id: string, i: number) => Promise<Run>;
  /** bridge + host-local ADD into `ns`. */
  readonly peer: (ns: Namespace, i: number) => Promise<Run>;
}

/** Runs `body` on a fresh bench cell and removes everything afterwards. */
export async function onBenchCell(opts: { name: string; subnet: number; agent?: Partial<AgentConfig> }, body: (b: BenchCell) => Promise<void>): Promise<void> {
  let fx: NetnsFixture | undefined;
  let api: TestControl | undefined;
  let agent: TestAgent | undefined;
  const peerDir = mkdtempSync(join(tmpdir(), `weft-bench-${opts.name}-`));
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
    fx = await createNetnsFixture({ subnet: opts.subnet });
    api = await startTestControl("postgres");
    const cell = await fx.addCell();
    const running = await startTestAgent(api, cell, `bench-${opts.name}-cell`, opts.agent ?? {});
    agent = running;
    const peerHost = await fx.addContainer();
    const peerConfig = JSON.stringify({
      cniVersion: "1.0.0",
      name: "wtbench",
      type: "bridge",
      bridge: "wtbr0",
      isGateway: true,
      ipam: { type: "host-local", subnet: "10.244.0.0/16", dataDir: join(peerDir, "ipam") },
    });
    await body({
      fx,
      api,
      agent: running,
      cell,
      ours: (ns, id, i) =>
        timed(WEFT_CNI, [], cniEnv("ADD", id, ns.path), JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: running.socketPath, ...appMetadata(`bench-app-${i % 10}`, i) })),
      peer: (ns, i) => timed("nsenter", [`--net=${peerHost.path}`, "/usr/lib/cni/bridge"], cniEnv("ADD", `peer-${i}`, ns.path), peerConfig),
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanup();
  }
}

/**
 * `warmup + n` containers, each ADDed by weft-cni and, into a second fresh namespace, by the peer;
 * which goes first alternates, so neither always runs right after namespace creation. Namespace
 * creation is not timed. Returns the timings after the warm-up, and every container id added.
 */
export async function pairedAdds(b: BenchCell, n: number, warmup: number, idOf: (i: number) => string): Promise<{ ours: number[]; peer: number[]; ids: string[] }> {
  const ours: number[] = [];
  const peer: number[] = [];
  const ids: string[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const [x, y] = [await b.fx.addContainer(), await b.fx.addContainer()];
    const id = idOf(i);
    const pair = i % 2 === 0 ? [await b.ours(x, id, i), await b.peer(y, i)] : (([q, o]) => [o, q])([await b.peer(y, i), await b.ours(x, id, i)]);
    const [o, p] = pair as [Run, Run];
    if (o.code !== 0) throw new Error(`weft-cni ADD ${id} failed (${o.code}): ${o.stdout}`);
    if (p.code !== 0) throw new Error(`bridge ADD ${i} failed (${p.code}): ${p.stdout}`);
    ids.push(id);
    if (i < warmup) continue;
    ours.push(o.ms);
    peer.push(p.ms);
  }
  return { ours, peer, ids };
}
