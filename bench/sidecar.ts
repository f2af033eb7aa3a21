// `npm run bench:sidecar`: our TLS sidecar against nginx (stream module, 1 worker) and haproxy
// (mode tcp, 1 thread), with the same certificate (ECDSA P-256 from the platform CA code), the
// same app (nginx, 1 worker: a 19-byte response and a 1 MiB file) and the same load generators.
// The proxies and the app share core 1, the load generator runs on core 0 (taskset), as in
// peer-figures A. Each proxy is an unprivileged foreground process on a loopback port.
//
// Per scenario and proxy: CPU microseconds per request (user+system of the proxy's processes,
// from /proc, divided by the requests served; ours is the Node manager and its weft-tlsd child, which
// does the TLS and the copying; the Node-only data path is an extra row), req/s, p50/p99 latency. Scenarios: small
// keep-alive requests (wrk -c50), new connections with a full handshake each (hey
// -disable-keepalive -c50), new connections with resumed TLS (wrk, Connection: close) and 1 MiB
// keep-alive transfers (wrk -c8). Rounds are interleaved across proxies; medians are reported
// with the min-max spread. Then memory per container (PSS) with 1, 50 and 250 containers:
// see sidecar/testing/bench-memory.ts. Writes bench/results/sidecar.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { fileURLToPath } from "node:url";
import { memoryNginx, memoryPerContainerMode, memoryShared, perContainerMb, type MemoryPoint } from "../sidecar/testing/bench-memory.js";
import { startAppNginx, startHaproxy, startNginxStream, startOurs, writeBenchFiles, type BenchProcess } from "../sidecar/testing/bench-peers.js";
import { cpuMicros, median, parseHey, parseWrk, processTree, run, type LoadResult } from "../sidecar/testing/bench-tools.js";
import { unusedPort } from "../sidecar/testing/harness.js";
import { createTestRoot, issueInstance } from "../test/support/test-pki.js";

const here = dirname(fileURLToPath(import.meta.url));

interface Args {
  runs: number;
  seconds: number;
  out: string;
  cpu: boolean;
  memory: boolean;
  counts: number[];
}

function parseArgs(argv: readonly string[]): Args {
  const val = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    runs: Number(val("--runs") ?? 3),
    seconds: Number(val("--seconds") ?? 5),
    out: val("--out") ?? join(here, "..", "..", "bench", "results", "sidecar.json"),
    cpu: !argv.includes("--memory-only"),
    memory: !argv.includes("--cpu-only"),
    counts: (val("--containers") ?? "1,50,250").split(",").map(Number),
  };
}

interface Scenario {
  readonly key: "keepalive" | "newconn" | "newconn_resumed" | "1mib";
  readonly label: string;
  readonly load: (port: number, seconds: number) => Promise<LoadResult>;
}

const LOAD_CORE = "0";
const PROXY_CORE = "1";
const wrk = async (args: string[]) => parseWrk(await run("taskset", ["-c", LOAD_CORE, "wrk", "-t1", "--latency", ...args]));
const SCENARIOS: Scenario[] = [
  { key: "keepalive", label: "keep-alive, 19 B responses (wrk -c50)", load: (p, s) => wrk(["-c50", `-d${s}s`, `https://127.0.0.1:${p}/`]) },
  {
    key: "newconn",
    label: "new connection + full handshake per request (hey -c50)",
    load: async (p, s) => parseHey(await run("taskset", ["-c", LOAD_CORE, "hey", "-z", `${s}s`, "-c", "50", "-disable-keepalive", `https://127.0.0.1:${p}/`])),
  },
  { key: "newconn_resumed", label: "new connection, resumed TLS (wrk Connection: close, -c50)", load: (p, s) => wrk(["-c50", `-d${s}s`, "-H", "Connection: close", `https://127.0.0.1:${p}/`]) },
  { key: "1mib", label: "1 MiB keep-alive transfers (wrk -c8)", load: (p, s) => wrk(["-c8", `-d${s}s`, `https://127.0.0.1:${p}/1m`]) },
];

interface Sample extends LoadResult {
  readonly cpuUsPerReq: number;
}

function negotiated(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    s.once("secureConnect", () => {
      resolve(`${s.getProtocol() ?? "?"} ${s.getCipher().name}`);
      s.destroy();
    });
    s.once("error", (err: Error) => resolve(`nothing (${err.message})`));
  });
}

async function measure(proc: BenchProcess, s: Scenario, seconds: number): Promise<Sample> {
  const pids = await processTree(proc.pid);
  const before = await cpuMicros(pids);
  const r = await s.load(proc.port, seconds);
  const cpu = (await cpuMicros(pids)) - before;
  return { ...r, cpuUsPerReq: r.requests > 0 ? cpu / r.requests : NaN };
}

const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
const spread = (xs: number[], d = 1) => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}-${fmt(Math.max(...xs), d)})`;

interface Row {
  metric: string;
  unit: string;
  ours: number;
  peer: string;
  peerValue: number;
  ratio: number;
}

const row = (metric: string, unit: string, ours: number, peer: string, peerValue: number, digits = 1): Row => ({
  metric,
  unit,
  ours: Number(ours.toFixed(digits)),
  peer,
  peerValue: Number(peerValue.toFixed(digits)),
  ratio: Number((ours / peerValue).toFixed(2)),
});

async function cpuBench(args: Args, rows: Row[]): Promise<void> {
  const root = await createTestRoot();
  const dir = await mkdtemp(join(tmpdir(), "weft-bench-sidecar-"));
  const files = await writeBenchFiles(dir, await issueInstance(root));
  const procs: BenchProcess[] = [];
  try {
    const appPort = await unusedPort();
    procs.push(await startAppNginx(files, appPort, PROXY_CORE));
    const ours = await startOurs(files, await unusedPort(), appPort, PROXY_CORE);
    procs.push(ours);
    const [, tlsd] = await processTree(ours.pid);
    if (tlsd === undefined) throw new Error("our sidecar has no native data path process (dist/bin/weft-tlsd not built?)");
    const oursNode = await startOurs(files, await unusedPort(), appPort, PROXY_CORE, "bench-node", "node");
    procs.push(oursNode);
    const nginx = await startNginxStream(files, await unusedPort(), appPort, PROXY_CORE);
    procs.push(nginx);
    const haproxy = await startHaproxy(files, await unusedPort(), appPort, PROXY_CORE);
    procs.push(haproxy);
    const peers = [ours, oursNode, nginx, haproxy];
    const samples = new Map<string, Sample[]>();
    for (const p of peers) for (const s of SCENARIOS) await s.load(p.port, 1); // warm-up (JIT, caches)
    // The TLS version each proxy negotiates with a client offering 1.2 and 1.3 (node:tls): Debian's nginx
    // 1.22 stops at TLS 1.2 by default (ssl_protocols), so its handshakes and resumptions (no
    // ECDHE when resumed) are not the TLS 1.3 ones ours and haproxy do.
    for (const p of peers) console.log(`${p.name} negotiates ${await negotiated(p.port)} with node:tls as the client`);
    for (let r = 0; r < args.runs; r++) {
      for (const s of SCENARIOS) {
        for (const p of peers) {
          const m = await measure(p, s, args.seconds);
          const key = `${p.name}/${s.key}`;
          samples.set(key, [...(samples.get(key) ?? []), m]);
          console.log(`run ${r + 1}/${args.runs} ${s.key.padEnd(16)} ${p.name.padEnd(13)} ${fmt(m.cpuUsPerReq).padStart(8)} us/req ${fmt(m.rps, 0).padStart(7)} req/s p50 ${fmt(m.p50Ms, 2)} ms p99 ${fmt(m.p99Ms, 2)} ms errors ${m.errors} load ${loadavg()[0]!.toFixed(1)}`);
        }
      }
    }
    console.log(`\nCPU per request [us], req/s, p50/p99 [ms]: median (min-max) of ${args.runs} runs of ${args.seconds} s`);
    for (const s of SCENARIOS) {
      console.log(`\n${s.label}`);
      const med = (name: string, f: (x: Sample) => number) => median(samples.get(`${name}/${s.key}`)!.map(f));
      for (const p of peers) {
        const xs = samples.get(`${p.name}/${s.key}`)!;
        console.log(
          `  ${p.name.padEnd(13)} cpu ${spread(xs.map((x) => x.cpuUsPerReq)).padEnd(22)} rps ${spread(xs.map((x) => x.rps), 0).padEnd(22)} p50 ${spread(xs.map((x) => x.p50Ms), 2).padEnd(22)} p99 ${spread(xs.map((x) => x.p99Ms), 2)}`,
        );
      }
      const oursCpu = med(ours.name, (x) => x.cpuUsPerReq);
      for (const peer of [nginx, haproxy]) {
        const suffix = peer === nginx ? "" : "_vs_haproxy";
        const label = peer === nginx ? "nginx-stream (1 worker)" : "haproxy-tcp (1 thread)";
        const peerCpu = med(peer.name, (x) => x.cpuUsPerReq);
        console.log(`  ours / ${peer.name}: ${fmt(oursCpu / peerCpu, 2)}x CPU per request`);
        rows.push(row(`cpu_us_per_req_${s.key}${suffix}`, "us/req", oursCpu, label, peerCpu));
      }
      const nodeCpu = med(oursNode.name, (x) => x.cpuUsPerReq);
      console.log(`  ${oursNode.name} (node:tls data path) / ${nginx.name}: ${fmt(nodeCpu / med(nginx.name, (x) => x.cpuUsPerReq), 2)}x CPU per request`);
      rows.push(row(`cpu_us_per_req_${s.key}_node_path`, "us/req", nodeCpu, "nginx-stream (1 worker)", med(nginx.name, (x) => x.cpuUsPerReq)));
      for (const [m, f] of [["p50_ms", (x: Sample) => x.p50Ms], ["p99_ms", (x: Sample) => x.p99Ms], ["rps", (x: Sample) => x.rps]] as const) {
        rows.push(row(`${m}_${s.key}`, m === "rps" ? "req/s" : "ms", med(ours.name, f), "nginx-stream (1 worker)", med(nginx.name, f), 2));
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function memoryBench(args: Args, rows: Row[]): Promise<void> {
  const root = await createTestRoot();
  const dir = await mkdtemp(join(tmpdir(), "weft-bench-sidecar-mem-"));
  const files = await writeBenchFiles(dir, await issueInstance(root));
  try {
    const show = (name: string, pts: MemoryPoint[]) => {
      for (const p of pts) console.log(`  ${name.padEnd(28)} ${String(p.containers).padStart(4)} containers: PSS ${(p.pssKb / 1024).toFixed(1)} MiB total (RSS ${(p.rssKb / 1024).toFixed(1)} MiB, ${p.processes} processes) = ${perContainerMb(p).toFixed(2)} MiB per container`);
    };
    console.log("\nMemory per container (PSS)");
    const shared = await memoryShared(root, args.counts);
    show("ours, shared (default)", shared);
    const perContainerCounts = args.counts.filter((n) => n <= 50);
    const separate = await memoryPerContainerMode(root, perContainerCounts);
    show("ours, per-container process", separate);
    const nginx = await memoryNginx(files, await unusedPort(), args.counts);
    show("nginx-stream per container", nginx);
    const first = shared[0]!;
    const last = shared[shared.length - 1]!;
    if (shared.length > 1) console.log(`  ours, shared: each added container costs ${(((last.pssKb - first.pssKb) / (last.containers - first.containers)) / 1024).toFixed(3)} MiB`);
    for (const s of shared) {
      const n = nginx.find((x) => x.containers === s.containers);
      if (n) rows.push(row(`mem_per_container_mb_${s.containers}`, "MB", perContainerMb(s), "nginx-stream, one instance (master + 1 worker) per container", perContainerMb(n), 3));
    }
    for (const s of separate) {
      const n = nginx.find((x) => x.containers === s.containers);
      if (n) rows.push(row(`mem_per_container_mb_${s.containers}_per_container_mode`, "MB", perContainerMb(s), "nginx-stream, one instance (master + 1 worker) per container", perContainerMb(n), 3));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const rows: Row[] = [];
  const loadBefore = loadavg();
  console.log(`load average before: ${loadBefore.map((l) => l.toFixed(1)).join(" ")}`);
  if (args.cpu) await cpuBench(args, rows);
  if (args.memory) await memoryBench(args, rows);
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(" ")} (2 cores)`);
  console.log("\nmetric                                  ours      peer    ratio");
  for (const r of rows) console.log(`${r.metric.padEnd(38)} ${String(r.ours).padStart(8)} ${String(r.peerValue).padStart(9)} ${r.ratio.toFixed(2).padStart(8)}  ${r.peer}`);
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify({ bench: "sidecar", rows }, null, 2)}\n`);
  console.log(`\nwrote ${args.out}`);
}

await main();
