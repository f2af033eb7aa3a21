// `npm run bench:propagation`: how long a policy created through REST takes to be enforced (acked)
// by every cell that needs it, with 100, 1,000 and 5,000 light simulated agents, against CF's
// model (agents poll every 5 s: ~2,500 ms on average, 5,000 ms at worst; CF's acceptance tests
// wait 7 s). Goals: p99 <= 100 ms at 1,000 cells and <= 500 ms at 5,000 cells.
//
// Control runs as `weft control` in its own process on a fresh PostgreSQL database; the agents run
// in a second process (propagation-agents.ts), each with its own join, certificate, lease and
// mTLS Sync stream. Each size gets a fresh database, control and agents process (so a size's
// setup does not push to another size's cells, and memory has a clean baseline). Setup: every
// cell joins, leases and registers its instances, background policies are created, then every
// Sync stream opens and gets its snapshot. The service apps run on 2.5% of the cells each (see
// propagation-plan.ts), so a measured policy is relevant to 5% of the cells; --policies new
// policies are then created one after another: the clock starts before the POST and stops at the
// latest apply time among the relevant cells (taken by the agents just before they ack, same
// machine clock). A few warm-up policies are not counted. Extra row: a lease acquired or released
// until every cell applied it. Memory: control's VmRSS with N cells connected minus before any
// cell, over N (do not combine with --cpu-prof, whose samples sit in control's memory).
//
// Setting up 5,000 cells dominates the run time (10-15 minutes on a busy 2-core machine): each
// lease acquisition reads every lease, and each of the 5,000 snapshots carries all 5,000 leases.
// Writes bench/results/propagation.json. Everything (processes, temp dir, database) is removed at
// the end, on failure, on SIGINT/SIGTERM, and at --deadline-min. --trace DIR keeps per-policy
// timings and control's log.
import { fork } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorMessage } from "../common/errors.js";
import { cpuTicksOf, createBenchDatabase, startControlProcess, type BenchDatabase, type ControlProcess } from "./propagation-control.js";
import { Agents, Steps, cpuDelta, cpuSnapshot, othersCpu, postPolicies, quiesce, sleep, v1 } from "./propagation-harness.js";
import { bgApp, cellsFor, measuredPolicy, nowMs, policyKey, type AgentsStats, type AwaitResult, type LeaseResult, type PrepareResult } from "./propagation-plan.js";
import { buildRows, percentile, printReport, writeResults, type RoundResult } from "./propagation-report.js";
import { restClient, type RestClient } from "./propagation-rest.js";

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  sizes: number[];
  policies: number;
  warmup: number;
  leases: number;
  concurrency: number;
  overlay: string;
  prefix: number;
  out: string;
  cpuProf: string | undefined;
  /** Directory for per-policy timings (policies-N.jsonl) and control's log (control-N.log). */
  trace: string | undefined;
  deadlineMin: number;
}

function parseArgs(argv: readonly string[]): Args {
  const val = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (flag: string, dflt: number) => Number(val(flag) ?? dflt);
  return {
    sizes: (val("--sizes") ?? "100,1000,5000").split(",").map(Number),
    policies: num("--policies", 100),
    warmup: num("--warmup", 5),
    // Acquire and release alternate, so the spare cell ends each round without a lease.
    leases: 2 * Math.ceil(num("--leases", 10) / 2),
    // Control's PostgreSQL pool has 16 connections; more concurrent setup calls only queue there.
    concurrency: num("--concurrency", 16),
    // 8,191 blocks of /24: room for 5,000 cells, and a pool small enough to scan per acquire.
    overlay: val("--overlay-network") ?? "10.0.0.0/11",
    prefix: num("--subnet-prefix", 24),
    out: val("--out") ?? join(here, "..", "..", "bench", "results", "propagation.json"),
    cpuProf: val("--cpu-prof"),
    trace: val("--trace"),
    // 5,000 cells take 10-15 minutes to set up on a busy 2-core machine (see the top comment).
    deadlineMin: num("--deadline-min", 40),
  };
}

interface Env {
  readonly rest: RestClient;
  readonly agents: Agents;
  readonly agentsPid: number;
  readonly control: ControlProcess;
  readonly db: BenchDatabase;
}

async function startSize(args: Args, n: number, steps: Steps): Promise<Env & { logFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), "weft-bench-propagation-"));
  steps.push(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createBenchDatabase();
  steps.push(() => db.drop());
  const logFile = join(dir, "control.log");
  lastLog = logFile;
  const control = await startControlProcess({
    cliPath: join(here, "..", "cli", "main.js"),
    databaseUrl: db.url,
    dataDir: join(dir, "data"),
    overlayNetwork: args.overlay,
    subnetPrefix: args.prefix,
    logFile,
    ...(args.cpuProf ? { cpuProfDir: join(args.cpuProf, String(n)) } : {}),
  });
  steps.push(async () => {
    await control.stop();
    if (args.trace) copyFileSync(logFile, join(args.trace, `control-${n}.log`));
  });
  const child = fork(join(here, "propagation-agents.js"), [], { execArgv: ["--max-old-space-size=8192"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const agents = new Agents(child);
  steps.push(() => agents.stop());
  await agents.call({ op: "init", apiUrl: control.apiUrl, apiCaPem: control.apiCaPem, adminToken: control.adminToken });
  const rest = restClient(control.apiUrl, control.apiCaPem, control.adminToken);
  steps.push(() => rest.close());
  console.log(`[${n} cells] control pid ${control.pid} (overlay ${args.overlay}, /${args.prefix} per cell), agents pid ${child.pid}`);
  return { rest, agents, agentsPid: child.pid!, control, db, logFile };
}

async function runSize(args: Args, n: number, env: Env): Promise<RoundResult> {
  const { rest, agents, agentsPid, control, db } = env;
  await sleep(1000);
  const rss0Kb = control.rssKb();
  const heap0Bytes = await control.heapUsedBytes();
  const t0 = Date.now();
  const cpu0 = { control: control.cpuTicks(), agents: cpuTicksOf(agentsPid) };
  const cells = cellsFor(n);
  const prepared = await agents.call<PrepareResult>({ op: "prepare", cells, concurrency: args.concurrency });
  if (prepared.failed) throw new Error(`${prepared.failed} cells failed to join: ${prepared.firstError}`);
  const bg: unknown[] = [];
  for (let k = 0; k + 1 < n >> 1; k++) bg.push(v1(bgApp(k), bgApp(k + 1), 8080));
  for (let i = 0; i < bg.length; i += 100) await postPolicies(rest, { policies: bg.slice(i, i + 100) });
  const syncMs = await agents.call<number>({ op: "sync", concurrency: args.concurrency });
  await quiesce(rest, n, 300_000);
  const setupS = (Date.now() - t0) / 1000;
  const setupCpuS = { control: (control.cpuTicks() - cpu0.control) / 100, agents: (cpuTicksOf(agentsPid) - cpu0.agents) / 100 };
  const instances = cells.reduce((sum, c) => sum + c.instances.length, 0);
  console.log(
    `  joined, leased and registered ${n} cells (${instances} instances) in ${(prepared.ms / 1000).toFixed(1)} s ` +
      `(per cell: join ${prepared.stageMs.join} ms, lease ${prepared.stageMs.lease} ms, register ${prepared.stageMs.register} ms at concurrency ${args.concurrency}), ` +
      `${bg.length} background policies, Sync streams and snapshots in ${(syncMs / 1000).toFixed(1)} s; settled after ${setupS.toFixed(1)} s ` +
      `(CPU: control ${setupCpuS.control.toFixed(0)} s, agents ${setupCpuS.agents.toFixed(0)} s)`,
  );

  const measure = async (k: number, basePort: number) => {
    const p = measuredPolicy(n, k, basePort);
    const start = nowMs();
    const revision = await postPolicies(rest, { policies: [v1(p.source, p.destination, p.port)] });
    const committed = nowMs();
    const r = await agents.call<AwaitResult>({ op: "await", revision, cells: p.cells, policyKey: policyKey(p.source, p.destination, "tcp", p.port, p.port), timeoutMs: 30_000 });
    if (args.trace) {
      const line = { k, revision, start, committed, first: Math.min(...r.times), last: Math.max(...r.times), missing: r.missing.length };
      appendFileSync(join(args.trace, `policies-${n}.jsonl`), `${JSON.stringify(line)}\n`);
    }
    return { p, r, ms: r.missing.length ? 30_000 : Math.max(...r.times) - start, commitMs: committed - start };
  };
  for (let k = 0; k < args.warmup; k++) await measure(k, 9000);
  const loadAvg = loadavg()[0]!;
  const m0 = Date.now();
  const { result, othersPct } = await othersCpu(db, [control.pid, agentsPid, process.pid], async () => {
    const policyMs: number[] = [];
    const commitMs: number[] = [];
    let timeouts = 0;
    let withoutPolicy = 0;
    let extraneous = 0;
    let relevantCells = 0;
    const cpu0 = await cpuSnapshot(db, { control: control.pid, agents: agentsPid });
    for (let k = 0; k < args.policies; k++) {
      const m = await measure(k, 10_000);
      policyMs.push(m.ms);
      commitMs.push(m.commitMs);
      relevantCells = Math.max(relevantCells, m.p.cells.length);
      if (m.r.missing.length) {
        timeouts++;
        console.log(`  policy ${k} not acked within 30 s by ${m.r.missing.join(", ")}`);
      }
      withoutPolicy += m.r.withoutPolicy;
      extraneous += m.r.extraneous;
    }
    const cpu1 = await cpuSnapshot(db, { control: control.pid, agents: agentsPid });
    const used = cpuDelta(cpu0, cpu1);
    const perPolicy = (k: string) => (used[k] ?? 0) / args.policies;
    const cpuPerPolicyMs = { control: perPolicy("control"), agents: perPolicy("agents"), postgres: perPolicy("postgres") };
    const leaseMs: number[] = [];
    let leaseTimeouts = 0;
    for (let j = 0; j < args.leases; j++) {
      const l = await agents.call<LeaseResult>({ op: "lease", action: j % 2 === 0 ? "acquire" : "release", underlayIp: "100.126.0.1", timeoutMs: 60_000 });
      leaseTimeouts += l.missing ? 1 : 0;
      leaseMs.push(l.missing ? 60_000 : Math.max(...l.times) - l.t0);
    }
    return { policyMs, commitMs, timeouts, withoutPolicy, extraneous, relevantCells, leaseMs, leaseTimeouts, cpuPerPolicyMs };
  });
  const pct = (v: number[], p: number) => percentile(v, p).toFixed(1);
  console.log(
    `  policies: p50 ${pct(result.policyMs, 50)} ms, p99 ${pct(result.policyMs, 99)} ms over ${result.policyMs.length} (relevant cells ${result.relevantCells}, ${result.timeouts} timed out); ` +
      `leases: p50 ${pct(result.leaseMs, 50)} ms, p99 ${pct(result.leaseMs, 99)} ms over ${result.leaseMs.length}; ` +
      `measured in ${((Date.now() - m0) / 1000).toFixed(1)} s, others used ${othersPct.toFixed(0)}% CPU`,
  );
  await sleep(2000);
  const stats = await agents.call<AgentsStats>({ op: "stats" });
  if (stats.syncing !== n) console.log(`  !! only ${stats.syncing} of ${n} agents have a Sync stream open`);
  console.log(`  agents: ${stats.snapshots} snapshots, ${stats.deltas} deltas, ${stats.reconnects} stream losses, ${stats.retries} setup retries, agents RSS ${Math.round(stats.rssKb / 1024)} MB`);
  return {
    cells: n,
    relevantCells: result.relevantCells,
    policyMs: result.policyMs,
    commitMs: result.commitMs,
    policyTimeouts: result.timeouts,
    withoutPolicy: result.withoutPolicy,
    extraneous: result.extraneous,
    leaseMs: result.leaseMs,
    leaseTimeouts: result.leaseTimeouts,
    cpuPerPolicyMs: result.cpuPerPolicyMs,
    rss0Kb,
    rssKb: control.rssKb(),
    heap0Bytes,
    heapBytes: await control.heapUsedBytes(),
    setupS,
    setupCpuS,
    othersCpuPct: othersPct,
    loadAvg,
  };
}

let lastLog = "";

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const steps = new Steps();
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= steps.unwind());
  const abort = (why: string, code: number) => {
    console.error(`bench:propagation ${why}; cleaning up`);
    void cleanup().finally(() => process.exit(code));
  };
  const watchdog = setTimeout(() => abort(`exceeded --deadline-min ${args.deadlineMin}`, 2), args.deadlineMin * 60_000);
  process.once("SIGINT", () => abort("interrupted", 130));
  process.once("SIGTERM", () => abort("terminated", 143));

  if (args.trace) mkdirSync(args.trace, { recursive: true });
  console.log(`bench:propagation  node ${process.version}, sizes ${args.sizes.join(", ")}, ${args.policies} policies per size, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  try {
    const rounds: RoundResult[] = [];
    for (const n of args.sizes) {
      const mark = steps.mark;
      const env = await startSize(args, n, steps);
      rounds.push(await runSize(args, n, env));
      await steps.unwind(mark);
    }
    printReport(rounds);
    writeResults(args.out, buildRows(rounds));
    console.log(`wrote ${args.out}`);
  } catch (err) {
    console.error(`bench:propagation failed: ${errorMessage(err)}`);
    try {
      if (lastLog) console.error(`control log tail:\n${readFileSync(lastLog, "utf8").split("\n").slice(-20).join("\n")}`);
    } catch {
      // no log yet
    }
    process.exitCode = 1;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

await main();
