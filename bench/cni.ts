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
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { onBenchCell, pairedAdds, percentile, round } from "./cni-bench-cell.js";

const here = dirname(fileURLToPath(import.meta.url));
const CONTAINERS = Number(process.env.BENCH_CNI_CONTAINERS ?? 100);
const WARMUP = 3;
const PEER = "bridge+host-local";

async function main(): Promise<void> {
  await onBenchCell({ name: "cni", subnet: 77, agent: { reconcileEveryMs: 30_000 } }, async (b) => {
    const { ours: oursMs, peer: peerMs } = await pairedAdds(b, CONTAINERS, WARMUP, (i) => `bench-${i}`);
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
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
