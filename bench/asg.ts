// bench:asg — what app security groups cost at the cell edge.
//
//   add_ms_0_rules              CNI ADD until ready (p50 over N containers) on a cell with no ASG,
//                               beside the standard bridge + host-local plugins in the same run
//                               (interleaved, one sample each per container, as bench:cni does).
//   add_ms_1000_rules           the same with a global running-default ASG of 1,000 rules, beside
//                               our own 0-rule figure: CF's big-ASG acceptance test asks that a
//                               very large ASG not make a push much slower.
//   asg_change_100_containers_ms one ASG change (PATCH of the 1,000-rule group) from the REST call
//                               until the cell's agent has it enforced in the kernel for all 100
//                               containers on the cell (p50 of CHANGES changes), beside CF's worst
//                               case: dynamic ASGs reach cells through a 60 s syncer plus a 60 s
//                               agent poll (reference cf-networking.md 4.3), 120 s.
//
// Real parts: control on PostgreSQL, a real `weft agent` for one cell namespace, the real weft-cni
// binary per ADD, nftables in the cell's namespace. "Enforced" is the agent's own signal (the
// revision applied to the kernel, the same one it acks to control); after the timed changes one
// container is probed against an outside host to check that the data plane follows it. The 1,000
// rules are a realistic mix (random /32 and /24 destinations, 25 port specs, TCP/UDP/ICMP), so
// they compile to a few dozen nft rules with large anonymous interval sets in one chain shared by
// every container; each container is one element of a verdict map.
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCni } from "../test/support/agents.js";
import type { Namespace } from "../test/support/netns-fixture.js";
import { probe, startServer } from "../test/support/netns-probes.js";
import { Prng } from "../test/support/prng.js";
import { onBenchCell, pairedAdds, percentile, round } from "./cni-bench-cell.js";

const here = dirname(fileURLToPath(import.meta.url));
const CONTAINERS = Number(process.env.BENCH_ASG_CONTAINERS ?? 100);
const CHANGES = Number(process.env.BENCH_ASG_CHANGES ?? 10);
const RULES = 1000;
const WARMUP = 3;
const PEER_ADD = "bridge+host-local";
const CF_ASG_WORST_MS = 120_000;

const ratio = (a: number, b: number): number => Number((a / b).toPrecision(3));

const PORT_SPECS = ["443", "80,443", "5432", "3306", "6379", "8000-9000", "53", "9092", "27017", "11211", "8080", "8443", "22", "25,587", "389,636", "5672", "9200-9300", "2181", "4222", "1433", "5000-5100", "7000-7001", "61613", "1521", "50000-51000"];

/** 1,000 CF ASG rules; the first allows the bench's outside host on TCP `port`. */
function bigRules(outsideIp: string, port: number, seed: number): Record<string, unknown>[] {
  const prng = new Prng(seed);
  const rnd = () => prng.next();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const octet = () => Math.floor(rnd() * 256);
  const rules: Record<string, unknown>[] = [{ protocol: "tcp", destination: `${outsideIp}/32`, ports: String(port) }];
  while (rules.length < RULES) {
    const wide = rnd() < 0.3;
    const destination = wide ? `172.${16 + Math.floor(rnd() * 16)}.${octet()}.0/24` : `10.${octet()}.${octet()}.${octet()}`;
    const r = rnd();
    if (r < 0.05) rules.push({ protocol: "icmp", destination, type: pick([-1, 0, 8]), code: -1 });
    else rules.push({ protocol: r < 0.3 ? "udp" : "tcp", destination, ports: pick(PORT_SPECS) });
  }
  return rules;
}

async function main(): Promise<void> {
  await onBenchCell({ name: "asg", subnet: 78, agent: { reconcileEveryMs: 60_000 } }, async (bench) => {
    const { fx, api, agent, cell, ours } = bench;
    const socket = agent.socketPath;
    const outside = await fx.addOutside();
    await startServer(fx, outside, outside.underlayIp, { tcp: [7000, 7001] });

    // Phase 1: no ASG, beside the peer.
    const { ours: add0, peer: addPeer, ids: phase1 } = await pairedAdds(bench, CONTAINERS, WARMUP, (i) => `zero-${i}`);
    for (const id of phase1) {
      const del = await runCni("DEL", { socketPath: socket, containerId: id });
      if (del.code !== 0) throw new Error(`DEL ${id} failed: ${del.stdout}`);
    }

    // Phase 2: a global running-default ASG of 1,000 rules, then the same ADDs.
    let port = 7000;
    const created = await api.request("POST", "/weft/v1/security-groups", { body: { name: "big", rules: bigRules(outside.underlayIp, port, 1), globally_enabled: { running: true } } });
    if (created.status !== 201) throw new Error(`create ASG: ${created.status} ${created.text}`);
    const guid = (created.json as { guid: string }).guid;
    await agent.running.agent.waitEnforced(Number(created.headers["x-weft-revision"]), 30_000);
    const add1000: number[] = [];
    const containers: { ns: Namespace; id: string }[] = [];
    for (let i = 0; i < WARMUP + CONTAINERS; i++) {
      const ns = await fx.addContainer();
      const id = `big-${i}`;
      const o = await ours(ns, id, i);
      if (o.code !== 0) throw new Error(`weft-cni ADD ${id} failed (${o.code}): ${o.stdout}`);
      containers.push({ ns, id });
      if (i >= WARMUP) add1000.push(o.ms);
    }
    const onCell = containers.length;
    const nftRules = (await fx.exec(cell, ["nft", "-a", "list", "table", "inet", "weft"])).split("\n").filter((l) => /comment "weft:v\d+:asg:/.test(l)).length;

    // Phase 3: one change at a time (the allowed outside port flips), REST call -> enforced.
    const changeMs: number[] = [];
    for (let i = 0; i < CHANGES; i++) {
      port = port === 7000 ? 7001 : 7000;
      const rules = bigRules(outside.underlayIp, port, 1);
      const t0 = performance.now();
      const res = await api.request("PATCH", `/weft/v1/security-groups/${guid}`, { body: { rules } });
      if (res.status !== 200) throw new Error(`update ASG: ${res.status} ${res.text}`);
      await agent.running.agent.waitEnforced(Number(res.headers["x-weft-revision"]), 60_000);
      changeMs.push(performance.now() - t0);
    }
    // The data plane follows: the last container reaches the newly allowed port, not the other.
    const last = containers[containers.length - 1]!;
    const allowed = await probe(fx, last.ns, "tcp", outside.underlayIp, port);
    const denied = await probe(fx, last.ns, "tcp", outside.underlayIp, port === 7000 ? 7001 : 7000);
    if (!allowed.startsWith("pong:") || !denied.startsWith("error:")) throw new Error(`data plane does not follow the ASG: allowed ${allowed}, denied ${denied}`);

    const a0 = percentile(add0, 50);
    const a1000 = percentile(add1000, 50);
    const peerAdd = percentile(addPeer, 50);
    const change = percentile(changeMs, 50);
    const rows = [
      { metric: "add_ms_0_rules", unit: "ms", ours: round(a0), peer: PEER_ADD, peerValue: round(peerAdd), ratio: ratio(a0, peerAdd) },
      { metric: "add_ms_1000_rules", unit: "ms", ours: round(a1000), peer: "weft ADD with 0 ASG rules (CF big-ASG test: not much slower)", peerValue: round(a0), ratio: ratio(a1000, a0) },
      { metric: "asg_change_100_containers_ms", unit: "ms", ours: round(change), peer: "CF dynamic ASGs worst case (60 s syncer + 60 s agent poll)", peerValue: CF_ASG_WORST_MS, ratio: ratio(change, CF_ASG_WORST_MS) },
    ];
    const extra = {
      add_ms_0_rules_p99: round(percentile(add0, 99)),
      add_ms_1000_rules_p99: round(percentile(add1000, 99)),
      asg_change_max_ms: round(Math.max(...changeMs)),
      containers_on_cell: onCell,
      asg_nft_rules: nftRules,
    };
    console.log(`bench:asg  ${CONTAINERS} containers per phase, ${RULES} ASG rules, ${CHANGES} changes on a cell with ${onCell} containers; load average ${loadavg()[0]!.toFixed(2)}`);
    console.log(`${"metric".padEnd(30)}${"ours".padStart(12)}${"peer".padStart(12)}${"ratio".padStart(9)}  peer`);
    for (const r of rows) console.log(`${r.metric.padEnd(30)}${r.ours.toFixed(2).padStart(12)}${r.peerValue.toFixed(2).padStart(12)}${String(r.ratio).padStart(9)}  ${r.peer}`);
    console.log(`p99: ADD 0 rules ${extra.add_ms_0_rules_p99} ms, ADD 1,000 rules ${extra.add_ms_1000_rules_p99} ms; slowest change ${extra.asg_change_max_ms} ms; the 1,000 rules are ${nftRules} nft rules in one shared chain`);
    const out = join(here, "..", "..", "bench", "results", "asg.json");
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify({ bench: "asg", containers: CONTAINERS, rules: RULES, changes: CHANGES, loadAverage: round(loadavg()[0]!), ...extra, rows }, null, 2)}\n`);
    console.log(`wrote ${out}`);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
