// The propagation benchmark's plumbing: the agents child process called like a function over IPC,
// cleanup steps undone in reverse, the CPU share other processes took during a measurement, and
// the few REST calls the bench makes (create policies, wait for /weft/v1/status to settle).
import type { ChildProcess } from "node:child_process";
import { errorMessage } from "../common/errors.js";
import { cpuTicksOf, machineTicks, type BenchDatabase } from "./propagation-control.js";
import type { AgentsReply, AgentsRequest } from "./propagation-plan.js";
import type { RestClient } from "./propagation-rest.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agents child process, called like a function over IPC. */
export class Agents {
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private exited = false;

  constructor(private readonly child: ChildProcess) {
    child.on("message", (r: AgentsReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      if (r.ok) p?.resolve(r.result);
      else p?.reject(new Error(`agents: ${r.error}`));
    });
    child.once("exit", (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`agents process exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  call<T>(req: AgentsRequest): Promise<T> {
    if (this.exited) return Promise.reject(new Error("agents process is gone"));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, req });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise((r) => this.child.once("exit", r));
    await Promise.race([this.call({ op: "stop" }).catch(() => undefined), sleep(5000)]);
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
    await gone;
    clearTimeout(killer);
  }
}

/**
 * CPU time (ms) of processes and of our database's PostgreSQL backends, to take differences of with
 * `cpuDelta`. Backends are kept per PID: one that exits between two snapshots (the pool closes idle
 * connections) must not subtract the CPU it had used before the first one.
 */
export interface CpuSnapshot {
  readonly procs: Record<string, number>;
  readonly backends: ReadonlyMap<number, number>;
}

export async function cpuSnapshot(db: BenchDatabase, pids: Record<string, number>): Promise<CpuSnapshot> {
  const procs: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) procs[name] = cpuTicksOf(pid) * 10;
  const backends = new Map((await db.backendPids().catch(() => [])).map((pid) => [pid, cpuTicksOf(pid) * 10] as const));
  return { procs, backends };
}

/** CPU (ms) used between two snapshots, per named process and for the backends as `postgres`: a
 * backend seen only at the end counts whole; one gone by the end is left out (an undercount, never negative). */
export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ms] of Object.entries(b.procs)) out[name] = ms - (a.procs[name] ?? 0);
  let postgres = 0;
  for (const [pid, ms] of b.backends) postgres += Math.max(0, ms - (a.backends.get(pid) ?? 0));
  out.postgres = postgres;
  return out;
}

/** CPU used by others while `fn` runs: machine busy ticks minus ours (control, agents, bench, our PostgreSQL backends). */
export async function othersCpu<T>(db: BenchDatabase, ourPids: number[], fn: () => Promise<T>): Promise<{ result: T; othersPct: number }> {
  const ours = async () => {
    const pids = [...ourPids, ...(await db.backendPids().catch(() => []))];
    return new Map(pids.map((p) => [p, cpuTicksOf(p)]));
  };
  const m0 = machineTicks();
  const o0 = await ours();
  const result = await fn();
  const o1 = await ours();
  const m1 = machineTicks();
  let oursDelta = 0;
  for (const [pid, t] of o1) oursDelta += t - (o0.get(pid) ?? 0);
  const othersPct = (100 * Math.max(0, m1.busy - m0.busy - oursDelta)) / Math.max(1, m1.total - m0.total);
  return { result, othersPct };
}

export async function quiesce(rest: RestClient, cells: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = (await rest.send("GET", "/weft/v1/status")).json as { cells: { connected: boolean; lag: number }[] };
    const connected = s.cells.filter((c) => c.connected).length;
    const lagging = s.cells.filter((c) => c.connected && c.lag > 0).length;
    if (connected >= cells && lagging === 0) return;
    if (Date.now() > deadline) throw new Error(`status not settled within ${timeoutMs} ms: ${connected}/${cells} connected, ${lagging} lagging`);
    await sleep(250);
  }
}

export async function postPolicies(rest: RestClient, body: unknown): Promise<number> {
  const res = await rest.send("POST", "/networking/v1/external/policies", body);
  if (res.status !== 200) throw new Error(`create policies: ${res.status} ${res.text}`);
  return Number(res.headers["x-weft-revision"]);
}

export const v1 = (source: string, destination: string, port: number) => ({ source: { id: source }, destination: { id: destination, protocol: "tcp", ports: { start: port, end: port } } });

/** Cleanup steps, undone in reverse: per size (unwind to a mark) and all at once on failure or abort. */
export class Steps {
  private readonly steps: (() => Promise<void> | void)[] = [];
  push(fn: () => Promise<void> | void): void {
    this.steps.push(fn);
  }
  get mark(): number {
    return this.steps.length;
  }
  async unwind(to = 0): Promise<void> {
    while (this.steps.length > to) await Promise.resolve(this.steps.pop()!()).catch((err: unknown) => console.error(`cleanup: ${errorMessage(err)}`));
  }
}
