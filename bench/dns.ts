// `npm run bench:dns`: Weft's DNS server against dnsmasq and unbound, measured with dnsperf.
//
// All three serve the same 10,000 A records under apps.internal (3,000 apps, every third with 3
// instances, the others with 1; each instance also as K.appN: 8,000 names), from their own config
// files in a temp dir, as unprivileged foreground processes (user nobody) on loopback ports. The
// query file has 100,000 lines with about 10% names that do not exist (NXDOMAIN from the peers,
// NOERROR/empty from Weft, as CF does). Each server is pinned to core 1 and dnsperf to core 0.
//
// Measured per server: saturation QPS (dnsperf -c 4 -q 200, median of --runs runs, interleaved
// across servers so background noise hits all of them alike), server CPU microseconds per query
// (utime+stime from /proc/<pid>/stat over the run, all threads; its inverse, queries per CPU-second,
// is the per-core capacity and the figure least moved by other load), and p50/p99 latency at a fixed
// 10,000 q/s (dnsperf -Q 10000 -v, percentiles computed from its per-query lines, since dnsperf
// 2.10 reports only mean and deviation). Writes bench/results/dns.json.
//
// Weft serves UDP with `--udp-io native|dgram` (default: weft dns's default, native); `--with-dgram`
// adds a fourth server, "weft-dgram" (Weft on node:dgram), interleaved with the others, so both
// Weft paths are compared in the same conditions (rows with peer weft-dgram).
//
// Internally the same script is also Weft's server process: `--serve-weft PORT REGISTRY_FILE IO`, run
// with the Node flags `weft dns` gets from its launcher (cli/node-flags.ts). This process (it reads
// dnsperf's per-query output) pins itself to dnsperf's core, so only the server under test runs on
// the server core.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DNS_NODE_FLAGS } from "../cli/node-flags.js";
import { createLogger } from "../common/logger.js";
import { DNS_DEFAULTS } from "../dns/config.js";
import { startDns } from "../dns/main.js";
import type { UdpIo } from "../dns/udp-listener.js";
import type { RegistryRoute } from "../dns/registry.js";

const SERVER_CORE = "1";
const CLIENT_CORE = "0";
const FIXED_RATE = 10_000;
const here = dirname(fileURLToPath(import.meta.url));

interface Args { runs: number; seconds: number; rateSeconds: number; out: string; udpIo: UdpIo; withDgram: boolean }

function parseArgs(argv: string[]): Args {
  const get = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const outIndex = argv.indexOf("--out");
  const ioIndex = argv.indexOf("--udp-io");
  const udpIo = ioIndex >= 0 ? argv[ioIndex + 1] : DNS_DEFAULTS.udpIo;
  if (udpIo !== "native" && udpIo !== "dgram") throw new Error(`--udp-io must be native or dgram, got ${String(udpIo)}`);
  return {
    runs: get("--runs", 3),
    seconds: get("--seconds", 10),
    rateSeconds: get("--rate-seconds", 10),
    out: outIndex >= 0 ? argv[outIndex + 1]! : join(here, "..", "..", "bench", "results", "dns.json"),
    udpIo,
    withDgram: argv.includes("--with-dgram"),
  };
}

/** A deterministic PRNG (mulberry32), so every run queries the same names. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function buildData(dir: string): { routes: RegistryRoute[]; names: string[] } {
  const routes: RegistryRoute[] = [];
  const names: string[] = [];
  let n = 0;
  for (let app = 1; app <= 3000; app++) {
    const host = `app${app}.apps.internal`;
    const instances = Array.from({ length: app % 3 === 0 ? 3 : 1 }, (_, index) => {
      n++;
      return { instanceGuid: `i-${n}`, index, ip: `10.255.${n >> 8}.${n & 255}` };
    });
    routes.push({ host, instances });
    names.push(host, ...instances.map((i) => `${i.index}.${host}`));
  }
  const records = routes.flatMap((r) => r.instances.flatMap((i) => [[r.host, i.ip], [`${i.index}.${r.host}`, i.ip]] as const));
  writeFileSync(join(dir, "registry.json"), JSON.stringify(routes));
  writeFileSync(join(dir, "hosts"), records.map(([name, ip]) => `${ip} ${name}\n`).join(""));
  writeFileSync(join(dir, "unbound-data.conf"), records.map(([name, ip]) => `  local-data: "${name}. 0 IN A ${ip}"\n`).join(""));
  const rand = prng(0xd05);
  const lines: string[] = [];
  for (let i = 0; i < 100_000; i++) lines.push(rand() < 0.1 ? `miss${Math.floor(rand() * 1e6)}.apps.internal A` : `${names[Math.floor(rand() * names.length)]} A`);
  writeFileSync(join(dir, "queries.txt"), lines.join("\n") + "\n");
  return { routes, names };
}

interface Server { name: string; port: number; child: ChildProcess }

function startServer(name: string, port: number, dir: string, udpIo: UdpIo = DNS_DEFAULTS.udpIo): Server {
  const asNobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "taskset", "-c", SERVER_CORE];
  let argv: string[];
  if (name.startsWith("weft")) {
    argv = [...asNobody, process.execPath, ...DNS_NODE_FLAGS, fileURLToPath(import.meta.url), "--serve-weft", String(port), join(dir, "registry.json"), udpIo];
  } else if (name === "dnsmasq") {
    const conf = [`port=${port}`, "listen-address=127.0.0.1", "bind-interfaces", "no-resolv", "no-hosts", `addn-hosts=${join(dir, "hosts")}`, "local=/apps.internal/", "pid-file=", "cache-size=10000"];
    writeFileSync(join(dir, "dnsmasq.conf"), conf.join("\n") + "\n");
    argv = [...asNobody, "dnsmasq", "--keep-in-foreground", `--conf-file=${join(dir, "dnsmasq.conf")}`];
  } else {
    const conf = ["server:", `  interface: 127.0.0.1`, `  port: ${port}`, "  do-daemonize: no", '  username: ""', '  chroot: ""', `  directory: "${dir}"`, '  pidfile: ""', "  use-syslog: no", "  verbosity: 0", "  num-threads: 1", "  do-ip6: no", '  module-config: "iterator"', "  access-control: 127.0.0.0/8 allow", '  local-zone: "apps.internal." static', `  include: "${join(dir, "unbound-data.conf")}"`, "remote-control:", "  control-enable: no"];
    writeFileSync(join(dir, "unbound.conf"), conf.join("\n") + "\n");
    argv = [...asNobody, "unbound", "-d", "-c", join(dir, "unbound.conf")];
  }
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
  return { name, port, child };
}

/** Sends an A query; resolves the rcode, or undefined after 300 ms. */
function probe(port: number, name: string): Promise<number | undefined> {
  const labels = name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const msg = Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => { sock.close(); resolve(undefined); }, 300);
    sock.on("message", (reply) => { clearTimeout(timer); sock.close(); resolve(reply[3]! & 0x0f); });
    sock.send(msg, port, "127.0.0.1");
  });
}

async function waitReady(server: Server): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited with ${server.child.exitCode}`);
    if ((await probe(server.port, "app3.apps.internal")) === 0) return;
  }
  throw new Error(`${server.name} did not answer on 127.0.0.1:${server.port} within 30 s`);
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
}

function dnsperf(port: number, dir: string, extra: string[]): string {
  const r = spawnSync("taskset", ["-c", CLIENT_CORE, "dnsperf", "-s", "127.0.0.1", "-p", String(port), "-d", join(dir, "queries.txt"), "-T", "1", "-c", "4", "-q", "200", ...extra], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`dnsperf failed: ${r.stderr}`);
  return r.stdout;
}

const num = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

function saturate(server: Server, dir: string, seconds: number): { qps: number; cpuUs: number; completed: number; lostPct: number; rcodes: string } {
  const pid = server.child.pid!;
  const before = cpuTicks(pid);
  const out = dnsperf(server.port, dir, ["-l", String(seconds)]);
  const ticks = cpuTicks(pid) - before;
  const completed = num(out, /Queries completed:\s+(\d+)/);
  return { qps: num(out, /Queries per second:\s+([\d.]+)/), cpuUs: (ticks * 1e6) / 100 / completed, completed, lostPct: num(out, /Queries lost:\s+\d+ \(([\d.]+)%\)/), rcodes: /Response codes:\s+(.*)/.exec(out)?.[1] ?? "" };
}

function atFixedRate(server: Server, dir: string, seconds: number): { p50: number; p90: number; p99: number; p999: number; answered: number; lost: number } {
  const out = dnsperf(server.port, dir, ["-l", String(seconds), "-Q", String(FIXED_RATE), "-v"]);
  const latencies = [...out.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  return { p50: pct(50), p90: pct(90), p99: pct(99), p999: pct(99.9), answered: latencies.length, lost: num(out, /Queries lost:\s+(\d+)/) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function serveWeft(port: number, registryFile: string, udpIo: UdpIo): Promise<void> {
  const logger = createLogger({ level: "warn", name: "weft-dns-bench", destination: 2 });
  const running = await startDns(
    Object.freeze({ listen: { host: "127.0.0.1", port }, opsListen: { host: "127.0.0.1", port: 0 }, upstreams: [], domains: ["apps.internal"], ttlSeconds: 0, upstreamTimeoutMs: 2000, maxPendingForwards: 4096, ednsUdpSize: 4096, tcpIdleTimeoutMs: 10_000, maxTcpConnections: 1024, udpIo }),
    logger,
  );
  if (running.udpIo !== udpIo) throw new Error(`asked for UDP I/O ${udpIo}, got ${running.udpIo} (npm run build:dns-udp)`);
  running.registry.apply({ revision: 1, snapshot: true, routes: JSON.parse(readFileSync(registryFile, "utf8")) as RegistryRoute[], removedHosts: [] });
  process.once("SIGTERM", () => void running.stop().then(() => process.exit(0)));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--serve-weft") return serveWeft(Number(argv[1]), argv[2]!, argv[3] === "dgram" ? "dgram" : "native");
  const args = parseArgs(argv);
  for (const tool of ["dnsperf", "dnsmasq", "unbound", "taskset", "setpriv"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is not installed (apt-get install -y dnsperf dnsmasq-base unbound util-linux)`);
  }
  // All threads of this process onto the client core: it must not preempt the server under test.
  if (spawnSync("taskset", ["-a", "-p", "-c", CLIENT_CORE, String(process.pid)], { stdio: "ignore" }).status !== 0) throw new Error("taskset could not pin the bench process");
  const dir = mkdtempSync(join(tmpdir(), "weft-bench-dns-"));
  chmodSync(dir, 0o755);
  const servers: Server[] = [];
  try {
    buildData(dir);
    const base = 20000 + Math.floor(Math.random() * 20000);
    servers.push(startServer("weft", base, dir, args.udpIo), startServer("dnsmasq", base + 1, dir), startServer("unbound", base + 2, dir));
    if (args.withDgram) servers.push(startServer("weft-dgram", base + 3, dir, "dgram"));
    console.log(`weft serves UDP with ${args.udpIo}${args.withDgram ? "; weft-dgram (node:dgram) runs alongside for comparison" : ""}`);
    const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
    console.log(`load average at start: ${load()} (on ${cpus().length} cores; other work on the machine shows up as noise)`);
    for (const s of servers) await waitReady(s);
    for (const s of servers) console.log(`${s.name}: pid ${s.child.pid}, port ${s.port}, a miss answers rcode ${await probe(s.port, "miss0.apps.internal")}`);
    const sat = new Map<string, ReturnType<typeof saturate>[]>(servers.map((s) => [s.name, []]));
    for (let run = 0; run < args.runs; run++) {
      for (const s of servers) {
        const r = saturate(s, dir, args.seconds);
        sat.get(s.name)!.push(r);
        console.log(`run ${run + 1} ${s.name}: ${r.qps.toFixed(0)} q/s, ${r.cpuUs.toFixed(1)} us CPU/query, lost ${r.lostPct}%, ${r.rcodes}`);
      }
    }
    const fixed = new Map(servers.map((s) => {
      const r = atFixedRate(s, dir, args.rateSeconds);
      console.log(`${s.name} at ${FIXED_RATE} q/s: p50 ${r.p50.toFixed(3)} ms, p90 ${r.p90.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, p99.9 ${r.p999.toFixed(3)} ms, ${r.answered} answered, ${r.lost} lost`);
      return [s.name, r] as const;
    }));
    const value = (name: string, metric: string): number => {
      const runs = sat.get(name)!;
      if (metric === "qps") return median(runs.map((r) => r.qps));
      if (metric === "cpu_us_per_query") return median(runs.map((r) => r.cpuUs));
      // Queries per second of server CPU: what one core would answer if the server alone had it.
      // Unlike saturation QPS it is barely moved by other load on the machine.
      if (metric === "queries_per_cpu_second") return 1e6 / median(runs.map((r) => r.cpuUs));
      const f = fixed.get(name)!;
      return metric === "p50_ms_at_10k_qps" ? f.p50 : f.p99;
    };
    const units: Record<string, string> = { qps: "q/s", cpu_us_per_query: "us", queries_per_cpu_second: "q/cpu-s", p50_ms_at_10k_qps: "ms", p99_ms_at_10k_qps: "ms" };
    const rows = ["unbound", "dnsmasq", ...(args.withDgram ? ["weft-dgram"] : [])].flatMap((peer) =>
      Object.keys(units).map((metric) => {
        const ours = value("weft", metric);
        const peerValue = value(peer, metric);
        return { metric, unit: units[metric]!, ours: Number(ours.toFixed(3)), peer, peerValue: Number(peerValue.toFixed(3)), ratio: Number((ours / peerValue).toFixed(3)) };
      }),
    );
    console.log("\nmetric               unit  ours        peer      peerValue   ratio");
    for (const r of rows) console.log(`${r.metric.padEnd(20)} ${r.unit.padEnd(5)} ${String(r.ours).padEnd(11)} ${r.peer.padEnd(9)} ${String(r.peerValue).padEnd(11)} ${r.ratio}`);
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify({ bench: "dns", rows }, null, 2) + "\n");
    console.log(`\nload average at end: ${load()}\nwrote ${args.out}`);
  } finally {
    for (const s of servers) s.child.kill("SIGTERM");
    await Promise.all(servers.map((s) => (s.child.exitCode !== null ? Promise.resolve() : new Promise<void>((r) => s.child.once("exit", () => r())))));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
