// `npm run bench:api` (after `npm run build`): the policy API at Cloud Foundry's largest validated
// scale, 60,000 policies over 20,000 apps, against `weft control` running as a child process on a
// fresh PostgreSQL database.
//
// Load: the 20,000 apps are registered (PUT /weft/v1/apps/{guid}), then the 60,000 policies are
// created one per POST, from 8 concurrent clients, each on one HTTPS keep-alive connection.
// create_per_s = policies / wall time of the whole policy load. Every create must answer 200 with
// a fresh X-Weft-Revision, and all 60,000 revisions must be distinct.
// List one app: 2,000 GET ?id=<random app>, one client, after 100 unmeasured warm-up requests;
// p50 and p99 of the per-request wall time (request written to last byte read).
// List all: median of 5 GETs of all policies (to last byte read), each checked for 60,000.
// Peer: CF's policy server as documented in cf-networking-release docs/06-c2c.md (20 requests/s at
// 60k policies / 20k apps); CF documents no list latency. Writes bench/results/api.json. The child
// process, its data directory and the database are removed at the end, also on failure.
// Everything (client, control, PostgreSQL) shares one machine; the load average is printed at the
// start and the end, since other work on the machine changes these figures a great deal. So the
// create phase also prints the CPU time (from /proc) each party spent per create: the control
// process, the PostgreSQL backends of the benchmark's database, PostgreSQL's shared processes and
// the load client, and how many creates went into each committed batch (NOTIFYs seen). Their sum
// says what rate the machine's CPUs could carry when nothing else runs on them.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { packageRoot } from "../common/package-root.js";
import { PG_ADMIN_URL, createTestDatabase } from "../test/support/db.js";
import { Prng } from "../test/support/prng.js";
import { startChildControl, type ChildControl } from "./api-child.js";
import { CpuMeter } from "./api-cpu.js";
import { HttpsClient } from "./api-http.js";

// WEFT_BENCH_POLICIES (with APPS a third of it) is for quick experiments only: such a run prints
// its figures but does not write bench/results/api.json.
const SCALED = process.env.WEFT_BENCH_POLICIES !== undefined;
const POLICIES = SCALED ? Number(process.env.WEFT_BENCH_POLICIES) : 60_000;
const APPS = Math.ceil(POLICIES / 3);
const CLIENTS = 8;
const LIST_ONE_REQUESTS = 2_000;
const LIST_ONE_WARMUP = 100;
const LIST_ALL_RUNS = 5;
const PEER_DOCUMENTED = "cf-policy-server (documented)";
const PEER_UNDOCUMENTED = "cf-policy-server (not documented)";

interface Row {
  metric: string;
  unit: string;
  ours: number;
  peer: string;
  peerValue: number | null;
  ratio: number | null;
}

interface Policy {
  source: { id: string };
  destination: { id: string; protocol: "tcp" | "udp"; ports: { start: number; end: number } };
}

function makeData(prng: Prng): { apps: string[]; policies: Policy[] } {
  const hex = (n: number) => prng.string(n, "0123456789abcdef");
  const apps = Array.from({ length: APPS }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`);
  const seen = new Set<string>();
  const policies: Policy[] = [];
  // Each app is the source of three policies to random destinations, as in CF's scale test.
  for (let i = 0; policies.length < POLICIES; i++) {
    const start = prng.range(1024, 65000);
    const end = prng.chance(0.8) ? start : start + prng.range(1, 500);
    const p: Policy = {
      source: { id: apps[i % APPS]! },
      destination: { id: prng.pick(apps), protocol: prng.chance(0.9) ? "tcp" : "udp", ports: { start, end } },
    };
    const key = JSON.stringify(p);
    if (seen.has(key)) continue;
    seen.add(key);
    policies.push(p);
  }
  return { apps, policies };
}

/** Runs task(i) for i in [0, n) from `clients` clients, each with its own keep-alive connection. */
async function fanOut(control: ChildControl, n: number, clients: number, task: (c: HttpsClient, i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new HttpsClient(control.apiPort, control.caPem, control.adminToken);
      try {
        for (let i = next++; i < n; i = next++) await task(client, i);
      } finally {
        client.close();
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

async function measure(control: ChildControl, database: { url: string; database: string }, prng: Prng, apps: string[], policies: Policy[]): Promise<Row[]> {
  const appSeconds = await fanOut(control, apps.length, CLIENTS, async (c, i) => {
    const r = await c.request("PUT", `/weft/v1/apps/${apps[i]}`, { name: `app-${i}`, space_guid: `space-${i % 500}`, org_guid: `org-${i % 50}` });
    if (r.status !== 201) throw new Error(`register app ${i}: ${r.status} ${r.body.toString().slice(0, 200)}`);
  });
  console.log(`registered ${apps.length} apps in ${appSeconds.toFixed(1)} s (${Math.round(apps.length / appSeconds)}/s)`);

  const revisions = new Set<string>();
  const cpu = await CpuMeter.open(PG_ADMIN_URL, database.url, control.pid, database.database);
  const before = await cpu.sample();
  const createSeconds = await fanOut(control, policies.length, CLIENTS, async (c, i) => {
    const r = await c.request("POST", "/networking/v1/external/policies", { policies: [policies[i]] });
    if (r.status !== 200 || r.revision === undefined) throw new Error(`create policy ${i}: ${r.status} ${r.body.toString().slice(0, 200)}`);
    revisions.add(r.revision);
  });
  if (revisions.size !== policies.length) throw new Error(`expected ${policies.length} distinct revisions, got ${revisions.size}`);
  const spent = CpuMeter.spent(before, await cpu.sample());
  const batches = cpu.notifications;
  await cpu.close();
  const createPerSecond = policies.length / createSeconds;
  console.log(`created ${policies.length} policies in ${createSeconds.toFixed(1)} s (${Math.round(createPerSecond)}/s)`);
  const perCreate = (ms: number) => (ms / policies.length).toFixed(3);
  const totalMs = spent.controlMs + spent.pgBackendsMs + spent.pgSharedMs + spent.clientMs;
  console.log(
    `CPU per create (ms): control ${perCreate(spent.controlMs)}, PostgreSQL backends ${perCreate(spent.pgBackendsMs)}, ` +
      `PostgreSQL shared processes ${perCreate(spent.pgSharedMs)}, client ${perCreate(spent.clientMs)}; total ${perCreate(totalMs)} ` +
      `(${Math.round((policies.length / totalMs) * 1000)} creates per CPU-second); ${(policies.length / Math.max(1, batches)).toFixed(1)} creates per committed batch`,
  );
  const cpuMsPerCreate = totalMs / policies.length;
  console.log(`at that CPU cost the machine's ${cpus().length} CPUs could carry about ${Math.round((cpus().length * 1000) / cpuMsPerCreate)} creates/s with nothing else running`);

  const client = new HttpsClient(control.apiPort, control.caPem, control.adminToken);
  try {
    const latencies: number[] = [];
    for (let i = 0; i < LIST_ONE_WARMUP + LIST_ONE_REQUESTS; i++) {
      const app = prng.pick(apps);
      const started = performance.now();
      const r = await client.request("GET", `/networking/v1/external/policies?id=${app}`);
      const ms = performance.now() - started;
      if (r.status !== 200) throw new Error(`list ${app}: ${r.status}`);
      if (i >= LIST_ONE_WARMUP) latencies.push(ms);
    }
    latencies.sort((a, b) => a - b);

    const allRuns: number[] = [];
    for (let i = 0; i < LIST_ALL_RUNS; i++) {
      const started = performance.now();
      const r = await client.request("GET", "/networking/v1/external/policies");
      allRuns.push(performance.now() - started);
      const total = r.status === 200 ? (JSON.parse(r.body.toString("utf8")) as { total_policies: number }).total_policies : -1;
      if (total !== POLICIES) throw new Error(`list all: status ${r.status}, total_policies ${total}, expected ${POLICIES}`);
    }
    allRuns.sort((a, b) => a - b);
    return [
      { metric: "create_per_s", unit: "policies/s", ours: Math.round(createPerSecond), peer: PEER_DOCUMENTED, peerValue: 20, ratio: round(createPerSecond / 20, 1) },
      { metric: "create_cpu_ms_per_policy", unit: "ms", ours: round(cpuMsPerCreate, 3), peer: PEER_UNDOCUMENTED, peerValue: null, ratio: null },
      { metric: "list_one_app_p50_ms", unit: "ms", ours: round(percentile(latencies, 50), 2), peer: PEER_UNDOCUMENTED, peerValue: null, ratio: null },
      { metric: "list_one_app_p99_ms", unit: "ms", ours: round(percentile(latencies, 99), 2), peer: PEER_UNDOCUMENTED, peerValue: null, ratio: null },
      { metric: "list_all_ms", unit: "ms", ours: round(allRuns[Math.floor(allRuns.length / 2)]!, 1), peer: PEER_UNDOCUMENTED, peerValue: null, ratio: null },
    ];
  } finally {
    client.close();
  }
}

// create_cpu_ms_per_policy: CPU time of control, PostgreSQL (this database's backends and the shared
// processes) and the load client per create, summed; on a shared machine it shows the headroom that
// the wall-clock rate hides.
const GOALS: Record<string, { text: string; met: (v: number) => boolean }> = {
  create_per_s: { text: ">= 2000/s", met: (v) => v >= 2000 },
  list_one_app_p99_ms: { text: "< 10 ms", met: (v) => v < 10 },
  list_all_ms: { text: "< 500 ms", met: (v) => v < 500 },
};

function printTable(rows: readonly Row[]): void {
  const head = ["metric", "ours", "peer", "peer value", "ratio", "goal"];
  const cells = rows.map((r) => {
    const goal = GOALS[r.metric];
    const verdict = goal ? `${goal.text} ${goal.met(r.ours) ? "(met)" : "(MISSED)"}` : "";
    return [r.metric, `${r.ours} ${r.unit}`, r.peer, r.peerValue === null ? "-" : `${r.peerValue} ${r.unit}`, r.ratio === null ? "-" : `${r.ratio}x`, verdict];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  for (const line of [head, widths.map((w) => "-".repeat(w)), ...cells]) console.log(line.map((c, i) => c.padEnd(widths[i]!)).join("  "));
}

async function main(): Promise<void> {
  const prng = new Prng(Number(process.env.WEFT_BENCH_SEED ?? 0xa91));
  const { apps, policies } = makeData(prng);
  const database = await createTestDatabase();
  let control: ChildControl | undefined;
  let cleaning: Promise<void> | undefined;
  // Once only, whether reached from the finally below or from a signal.
  const cleanup = () =>
    (cleaning ??= (async () => {
      await control?.stop();
      await database.drop();
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    control = await startChildControl(database.url);
    console.log(`weft control pid ${control.pid} on 127.0.0.1:${control.apiPort}, database ${database.database}`);
    console.log(`${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the start`);
    let rows: Row[];
    try {
      rows = await measure(control, database, prng, apps, policies);
    } catch (err) {
      console.error(`control output:\n${control.output()}`);
      throw err;
    }
    console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end`);
    printTable(rows);
    if (SCALED) {
      console.log(`WEFT_BENCH_POLICIES=${POLICIES}: not the benchmark's scale, results not written`);
      return;
    }
    const out = join(packageRoot(), "bench", "results", "api.json");
    mkdirSync(join(out, ".."), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ bench: "api", rows }, null, 2)}\n`);
    console.log(`wrote ${out}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
