// `npm run bench:enforce`: new TCP connections per second through a cell with 100, 10,000 and
// 50,000 policies, against the same path with no filtering, and the time to apply one policy
// change at each size. Also a linear iptables chain with 50,000 rules (peer-figures D's design)
// on the same path. Writes bench/results/enforce.json.
//
// Topology (namespaces from the netns fixture): one cell per configuration (unfiltered, 100,
// 10,000 and 50,000 policies, bare, linear iptables), each with a client container (app A, tag 1) and a
// server container (app B) wired by the kernel module. Every connection crosses the cell's forward
// path, so each SYN goes through the ingress lookup. The client (core 0) keeps 16 connections in
// flight, each connect -> read "ok" -> close; the server (core 1) answers and closes. Filler
// policies come from other tags to the server's app over a mix of 100 port ranges, plus the one
// policy A->B tcp 8080 the traffic matches. Each round measures every configuration between two
// runs of the unfiltered path (conntrack flushed before each run); a ratio is the median over
// rounds of rate / the mean of the two unfiltered runs around it, so drifts in the machine's load
// (others run tests on it) mostly cancel out.
// "Unfiltered" is the same cell without its filtering: Weft's table keeps its NAT chains (the
// masquerade of container egress to the underlay and the NetIn port-mapping DNAT, which any cell
// has, with or without policies, as the `bridge` plugin's ipMasq and `portmap` do), so conntrack
// and NAT run on both paths; only the filter chains (tagging, ingress, egress, host protection)
// are deleted. Until 2026-11 the baseline was the cell with no netfilter at all (no conntrack),
// which charged conntrack and NAT to filtering; that path is still measured, as "bare", and the
// 50,000 ratio against it is printed and kept (conn_rate_50000_vs_bare). A third path, "ct-only",
// is that bare cell plus the least a stateful filter needs: one forward chain whose only rule is
// `ct state established,related accept` (no tags, no sets, no NAT). Its ratio to bare
// (conn_rate_ct_only_vs_bare) is what conntrack alone costs, the floor of any design that allows
// established and related traffic, as the issue requires.
// CPU per connection (client and server process CPU, which includes the softirq work of the
// forwarding done in their context) is printed beside each rate: on a loaded machine it varies
// less than the rate.
// "Apply one" is adding (or removing) one policy through the reconciler's fast path
// (applyPolicyChange), from the call until the nft transaction is committed (new traffic sees the
// change): planning the touched group and one transaction. A removal then also cuts the flows it
// allowed (one conntrack call); that total is reported on its own row. Also printed: the cost of a bare `nsenter --net=... true`, the floor
// of every kernel call from Node here, and the design not taken (one interval set keyed by
// tag . daddr . proto . dport-range), whose deletes are slow because nft dumps the set first.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLinuxKernel, type LinuxKernel } from "../cni/kernel/linux-kernel.js";
import { BASE_CHAINS } from "../cni/kernel/nft-ruleset.js";
import { CellReconciler } from "../cni/plan/cell-reconciler.js";
import type { DesiredCell, DesiredPolicy } from "../cni/plan/desired-state.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../test/support/netns-fixture.js";

const here = dirname(fileURLToPath(import.meta.url));
const SIZES = [100, 10_000, 50_000] as const;
const CLIENT_IP = "10.255.1.2";
const SERVER_IP = "10.255.1.3";

interface Args {
  readonly rounds: number;
  readonly seconds: number;
  readonly applies: number;
  readonly linear: boolean;
  readonly out: string;
}

function parseArgs(argv: string[]): Args {
  const num = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const outIndex = argv.indexOf("--out");
  return {
    rounds: num("--rounds", 3),
    seconds: num("--seconds", 3),
    applies: num("--applies", 15),
    linear: !argv.includes("--no-linear"),
    out: outIndex >= 0 ? (argv[outIndex + 1] ?? "") : join(here, "..", "..", "bench", "results", "enforce.json"),
  };
}

const LOAD = `
const net = require("net");
const [ip, port, ms, conc] = process.argv.slice(1).map((v, i) => (i === 0 ? v : Number(v)));
const stop = Date.now() + ms;
const cpu0 = process.cpuUsage();
let n = 0, errs = 0, active = conc;
function one() {
  if (Date.now() > stop) {
    if (--active === 0) { const c = process.cpuUsage(cpu0); console.log(JSON.stringify({ n, errs, cpuUs: c.user + c.system })); }
    return;
  }
  const s = net.connect(port, ip);
  s.on("data", () => {});
  s.on("end", () => { n++; s.destroy(); one(); });
  s.on("error", () => { errs++; s.destroy(); one(); });
}
for (let i = 0; i < conc; i++) one();`;

const CLOSE_SERVER = `
require("net").createServer((s) => { s.on("error", () => {}); s.end("ok"); }).listen(8080, process.argv[1], () => console.log("ready"));`;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

const range = (xs: readonly number[]) => `${Math.min(...xs).toFixed(0)}-${Math.max(...xs).toFixed(0)}`;

function fillerPolicies(n: number): DesiredPolicy[] {
  const out: DesiredPolicy[] = [{ sourceTag: 1, destAppGuid: "B", protocol: "tcp", ports: { start: 8080, end: 8080 } }];
  for (let i = 1; i < n; i++) {
    const base = 9000 + (i % 100) * 10;
    out.push({ sourceTag: 2 + (i % 65_000), destAppGuid: "B", protocol: i % 7 === 0 ? "udp" : "tcp", ports: { start: base, end: base + (i % 5) } });
  }
  return out;
}

/** CPU time a process has run, in microseconds (/proc/PID/schedstat, ns; softirq work done in its context included). */
function taskCpuUs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
}

async function connRate(fx: NetnsFixture, client: Namespace, serverPid: number | undefined, seconds: number): Promise<{ rate: number; cpuUsPerConn: number }> {
  const server0 = taskCpuUs(serverPid);
  const child = fx.spawn(client, ["taskset", "-c", "0", "node", "-e", LOAD, SERVER_IP, "8080", String(seconds * 1000), "16"]);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve) => child.on("close", () => resolve()));
  const serverUs = taskCpuUs(serverPid) - server0;
  const r = JSON.parse(out.trim() || "{}") as { n?: number; errs?: number; cpuUs?: number };
  if (!r.n || (r.errs ?? 0) > r.n / 100) throw new Error(`load failed: ${out}`);
  return { rate: r.n / seconds, cpuUsPerConn: ((r.cpuUs ?? 0) + serverUs) / r.n };
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function linearChain(n: number): string {
  // peer-figures D: tag mark + daddr + tcp dport -> ACCEPT per rule, the matching rule last.
  const lines = ["*filter", ":WLIN - [0:0]", "-A FORWARD -j WLIN", "-A WLIN -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT"];
  lines.push("-A WLIN -i w-010255001002 -j MARK --set-xmark 0x1/0xffffffff");
  for (let i = 1; i < n; i++) {
    lines.push(`-A WLIN -d ${SERVER_IP}/32 -p tcp --dport ${9000 + (i % 100) * 10} -m mark --mark 0x${(2 + (i % 65_000)).toString(16)} -j ACCEPT`);
  }
  lines.push(`-A WLIN -d ${SERVER_IP}/32 -p tcp --dport 8080 -m mark --mark 0x1 -j ACCEPT`, `-A WLIN -d ${SERVER_IP}/32 -j REJECT`, "COMMIT", "");
  return lines.join("\n");
}

interface Path {
  readonly cfg: string;
  readonly cell: Cell;
  readonly client: Namespace;
  readonly serverPid: number | undefined;
  readonly rec: CellReconciler;
  readonly desired: (policies: DesiredPolicy[]) => DesiredCell;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const fx = await createNetnsFixture();
  let kernel: LinuxKernel | undefined;
  try {
    kernel = createLinuxKernel();
    const k = kernel;
    const loadMs: Record<number, number> = {};
    // One cell per configuration, all built alike and loaded once, so measurements of different
    // configurations follow each other within seconds and a round's ratios share its noise.
    const buildPath = async (cfg: string): Promise<Path> => {
      const cell = await fx.addCell();
      const client = await fx.addContainer();
      const server = await fx.addContainer();
      const rec = new CellReconciler({ kernel: k, netns: cell.path });
      const desired = (policies: DesiredPolicy[]): DesiredCell => ({
        overlayCidr: "10.255.0.0/16",
        lease: { subnet: "10.255.1.0/24", underlayIp: cell.underlayIp },
        underlayDev: cell.underlayDev,
        remoteLeases: [],
        containers: [
          { id: "client", ip: CLIENT_IP, netns: client.path, appGuid: "A", tag: 1 },
          { id: "server", ip: SERVER_IP, netns: server.path, appGuid: "B", tag: 2 },
        ],
        policies,
      });
      const n = Number(cfg);
      const ms = await timeMs(() => rec.reconcile(desired(fillerPolicies(Number.isInteger(n) ? n : 1))));
      if (Number.isInteger(n)) loadMs[n] = ms;
      if (cfg === "none") {
        // The same cell without filtering: every filter base chain goes (tagging, ingress,
        // egress, host protection); the NAT chains stay, and with them conntrack.
        const filters = BASE_CHAINS.filter((c) => c.hook.startsWith("type filter")).map((c) => `delete chain inet weft ${c.name}\n`);
        await fx.exec(cell, ["nft", "-f", "-"], filters.join(""));
        rec.invalidate();
      }
      if (cfg === "bare" || cfg === "linear" || cfg === "ct-only") {
        // The same links and routes, without Weft's table: no hooks (and so no conntrack) at all.
        await fx.exec(cell, ["nft", "delete", "table", "inet", "weft"]);
        rec.invalidate();
      }
      if (cfg === "linear") await fx.exec(cell, ["iptables-restore", "--noflush"], linearChain(50_000));
      if (cfg === "ct-only") {
        const table = "table inet ctonly {\n  chain forward {\n    type filter hook forward priority 0;\n    ct state established,related accept\n  }\n}\n";
        await fx.exec(cell, ["nft", "-f", "-"], table);
      }
      const srv = fx.spawn(server, ["taskset", "-c", "1", "node", "-e", CLOSE_SERVER, SERVER_IP]);
      await new Promise<void>((resolve, reject) => {
        srv.stdout?.on("data", (b: Buffer) => (String(b).includes("ready") ? resolve() : undefined));
        srv.on("exit", () => reject(new Error("server exited")));
      });
      return { cfg, cell, client, serverPid: srv.pid, rec, desired };
    };
    const configs = ["none", ...SIZES.map(String), "bare", "ct-only", ...(args.linear ? ["linear"] : [])];
    const paths: Path[] = [];
    for (const cfg of configs) paths.push(await buildPath(cfg));

    const rates: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
    const cpus: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
    const ratios: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
    // CPU per connection, as unfiltered / ours (so above 1 is "costs less", like the rate ratio).
    const cpuRatios: Record<string, number[]> = Object.fromEntries(configs.map((c) => [c, []]));
    const unfiltered = paths.find((p) => p.cfg === "none");
    if (!unfiltered) throw new Error("no unfiltered path");
    const measure = async (p: Path): Promise<{ rate: number; cpuUsPerConn: number }> => {
      await fx.exec(p.cell, ["conntrack", "-F"]).catch(() => undefined);
      const m = await connRate(fx, p.client, p.serverPid, args.seconds);
      rates[p.cfg]?.push(m.rate);
      cpus[p.cfg]?.push(m.cpuUsPerConn);
      return m;
    };
    for (let round = 0; round < args.rounds; round++) {
      // Every filtered measurement sits between two unfiltered ones, and its ratio is taken
      // against their mean, so each ratio compares runs a few seconds apart.
      const line: string[] = [];
      let before = await measure(unfiltered);
      const others = paths.filter((p) => p !== unfiltered);
      for (const p of round % 2 === 0 ? others : [...others].reverse()) {
        const m = await measure(p);
        const after = await measure(unfiltered);
        const ratio = m.rate / ((before.rate + after.rate) / 2);
        const cpuRatio = (before.cpuUsPerConn + after.cpuUsPerConn) / 2 / m.cpuUsPerConn;
        ratios[p.cfg]?.push(ratio);
        cpuRatios[p.cfg]?.push(cpuRatio);
        line.push(`${p.cfg} ${m.rate.toFixed(0)} (${ratio.toFixed(2)}; ${m.cpuUsPerConn.toFixed(0)} us/conn, ${cpuRatio.toFixed(2)})`);
        before = after;
      }
      console.error(`round ${round + 1}: ${line.join(", ")} conn/s (ratio to the unfiltered runs around it; CPU per connection, unfiltered/ours)`);
    }

    // One policy change at each size: add a policy, then remove it, through the reconciler's model.
    const add: Record<number, number[]> = {};
    const del: Record<number, number[]> = {};
    const cut: Record<number, number[]> = {};
    const apply = (n: number) => [...(add[n] ?? []), ...(del[n] ?? [])];
    for (const n of SIZES) {
      const path = paths.find((p) => p.cfg === String(n));
      if (!path) continue;
      const { rec, desired } = path;
      const base = fillerPolicies(n);
      const loaded = await timeMs(() => rec.reconcile(desired(base)));
      console.error(`apply phase ${n}: full reconcile ${loaded.toFixed(0)} ms`);
      add[n] = [];
      del[n] = [];
      cut[n] = [];
      for (let i = 0; i < args.applies; i++) {
        const extra: DesiredPolicy = { sourceTag: 65_100 + i, destAppGuid: "B", protocol: "tcp", ports: { start: 7000 + i, end: 7000 + i } };
        const grown = desired([...base, extra]);
        const shrunk = desired(base);
        const a = await rec.applyPolicyChange(grown, { added: [extra], removed: [] });
        const r = await rec.applyPolicyChange(shrunk, { added: [], removed: [extra] });
        add[n].push(a.rulesAppliedMs ?? a.durationMs);
        del[n].push(r.rulesAppliedMs ?? r.durationMs);
        cut[n].push(r.durationMs);
      }
      console.error(`apply phase ${n}: add ${median(add[n]).toFixed(2)} ms, remove ${median(del[n]).toFixed(2)} ms (with conntrack cut ${median(cut[n]).toFixed(2)} ms)`);
      // A full reconcile may only find the port chains the fast path leaves for it.
      const check = await rec.reconcile(desired(base));
      const drift = check.ops.filter((o) => o.kind !== "applyRuleDelta" || o.delta.addAllow.length + o.delta.removeAllow.length > 0);
      if (drift.length > 0) throw new Error(`model drifted from the kernel at ${n}: ${drift.map((o) => o.kind).join(",")}`);
    }

    // The design not taken: one concatenated interval set (tag . daddr . proto . dport range).
    // Its lookups are fine, but nft dumps an interval set before deleting from it.
    const alt = await fx.addContainer();
    const altElems = fillerPolicies(50_000).map((p, i) => `0x${p.sourceTag.toString(16)} . 10.255.${1 + (i % 200)}.${1 + ((i >> 8) % 250)} . ${p.protocol} . ${p.ports.start}-${p.ports.end}`);
    await fx.exec(alt, ["nft", "-f", "-"], `add table inet alt\nadd set inet alt allow { type mark . ipv4_addr . inet_proto . inet_service; flags interval; }\n`);
    await fx.exec(alt, ["nft", "-f", "-"], `add element inet alt allow { ${[...new Set(altElems)].join(", ")} }\n`);
    const altAdd: number[] = [];
    const altDel: number[] = [];
    for (let i = 0; i < Math.min(args.applies, 10); i++) {
      const e = `0xfff0 . 10.9.9.${i} . tcp . 7000-7010`;
      altAdd.push(await timeMs(() => fx.exec(alt, ["nft", "-f", "-"], `add element inet alt allow { ${e} }\n`)));
      altDel.push(await timeMs(() => fx.exec(alt, ["nft", "-f", "-"], `delete element inet alt allow { ${e} }\n`)));
    }
    const floor: number[] = [];
    const anyCell = paths[0]?.cell;
    for (let i = 0; i < 15 && anyCell; i++) floor.push(await timeMs(() => fx.exec(anyCell, ["true"])));

    const none = median(rates.none ?? []);
    const rows: { metric: string; unit: string; ours: number; peer: string; peerValue: number; ratio: number }[] = [];
    const r2 = (x: number) => Math.round(x * 100) / 100;
    for (const n of SIZES) {
      const ours = median(rates[String(n)] ?? []);
      rows.push({ metric: `conn_rate_${n}`, unit: "conn/s", ours: Math.round(ours), peer: "same path, no filtering (conntrack + NAT kept)", peerValue: Math.round(none), ratio: r2(median(ratios[String(n)] ?? [])) });
    }
    // The old baseline: the same cell with no netfilter at all. 50,000 against it, per round.
    const bare = median(rates.bare ?? []);
    const vsBare = (ratios["50000"] ?? []).map((r, i) => r / (ratios.bare?.[i] ?? Number.NaN));
    rows.push({ metric: "conn_rate_bare_no_netfilter", unit: "conn/s", ours: Math.round(bare), peer: "same path, no filtering", peerValue: Math.round(none), ratio: r2(median(ratios.bare ?? [])) });
    rows.push({ metric: "conn_rate_50000_vs_bare", unit: "conn/s", ours: Math.round(median(rates["50000"] ?? [])), peer: "same cell, no netfilter at all", peerValue: Math.round(bare), ratio: r2(median(vsBare)) });
    const ctVsBare = (ratios["ct-only"] ?? []).map((r, i) => r / (ratios.bare?.[i] ?? Number.NaN));
    rows.push({ metric: "conn_rate_ct_only_vs_bare", unit: "conn/s", ours: Math.round(median(rates["ct-only"] ?? [])), peer: "same cell, no netfilter at all (ours: one 'ct state established,related accept' rule, nothing else)", peerValue: Math.round(bare), ratio: r2(median(ctVsBare)) });
    for (const n of SIZES) {
      const ours = median(cpus[String(n)] ?? []);
      rows.push({ metric: `cpu_us_per_conn_${n}`, unit: "us", ours: Math.round(ours), peer: "same path, no filtering", peerValue: Math.round(median(cpus.none ?? [])), ratio: r2(median(cpuRatios[String(n)] ?? [])) });
    }
    if (args.linear) {
      const lin = median(rates.linear ?? []);
      rows.push({ metric: "conn_rate_linear_iptables_50000", unit: "conn/s", ours: Math.round(lin), peer: "same path, no filtering", peerValue: Math.round(none), ratio: r2(median(ratios.linear ?? [])) });
    }
    for (const n of SIZES) {
      const ours = median(apply(n));
      rows.push({ metric: `apply_one_ms_${n}`, unit: "ms", ours: r2(ours), peer: "goal", peerValue: 10, ratio: r2(ours / 10) });
    }
    for (const n of SIZES) {
      const ours = median(cut[n] ?? []);
      rows.push({ metric: `remove_with_conntrack_cut_ms_${n}`, unit: "ms", ours: r2(ours), peer: "goal", peerValue: 10, ratio: r2(ours / 10) });
    }
    rows.push({ metric: "alt_interval_set_delete_one_ms_50000", unit: "ms", ours: r2(median(altDel)), peer: "goal", peerValue: 10, ratio: r2(median(altDel) / 10) });
    for (const n of SIZES) {
      rows.push({ metric: `load_all_ms_${n}`, unit: "ms", ours: Math.round(loadMs[n] ?? 0), peer: "none", peerValue: 0, ratio: 0 });
    }
    console.log("metric                              ours        peer (value)                      ratio");
    for (const r of rows) console.log(`${r.metric.padEnd(34)} ${String(r.ours).padStart(9)} ${r.unit.padEnd(7)} ${r.peer} (${r.peerValue})  ${r.ratio}`);
    for (const [cfg, xs] of Object.entries(rates)) if (xs.length > 0) console.log(`rounds ${cfg}: ${xs.map((x) => x.toFixed(0)).join(", ")} (spread ${range(xs)})`);
    for (const [cfg, xs] of Object.entries(ratios)) {
      if (cfg !== "none" && xs.length > 0) console.log(`paired ratio ${cfg}/none per round: ${xs.map((x) => x.toFixed(2)).join(", ")} (median ${median(xs).toFixed(2)})`);
    }
    console.log(`paired ratio 50000/bare per round: ${vsBare.map((x) => x.toFixed(2)).join(", ")} (median ${median(vsBare).toFixed(2)})`);
    console.log(`paired ratio ct-only/bare per round: ${ctVsBare.map((x) => x.toFixed(2)).join(", ")} (median ${median(ctVsBare).toFixed(2)})`);
    for (const [cfg, xs] of Object.entries(cpuRatios)) {
      if (cfg !== "none" && xs.length > 0) console.log(`CPU per connection, none/${cfg} per round: ${xs.map((x) => x.toFixed(2)).join(", ")} (median ${median(xs).toFixed(2)}; ${median(cpus[cfg] ?? []).toFixed(0)} us vs ${median(cpus.none ?? []).toFixed(0)} us)`);
    }
    for (const n of SIZES) {
      const xs = apply(n);
      console.log(
        `apply ${n}: median ${median(xs).toFixed(2)} ms (add ${median(add[n] ?? []).toFixed(2)}, remove ${median(del[n] ?? []).toFixed(2)}, remove incl. conntrack cut ${median(cut[n] ?? []).toFixed(2)}), max ${Math.max(...xs).toFixed(2)} ms over ${xs.length}`,
      );
    }
    console.log(`interval-set design at 50,000 (nft -f per change): add ${median(altAdd).toFixed(2)} ms, delete ${median(altDel).toFixed(2)} ms`);
    console.log(`exec floor (nsenter --net=<cell> true from Node): median ${median(floor).toFixed(2)} ms, spread ${Math.min(...floor).toFixed(1)}-${Math.max(...floor).toFixed(1)} ms`);
    console.log(`load average: ${loadavg().map((x) => x.toFixed(1)).join(" ")}`);
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(args.out, JSON.stringify({ bench: "enforce", rows }, null, 2) + "\n");
    console.log(`wrote ${args.out}`);
  } finally {
    kernel?.close();
    await fx.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

