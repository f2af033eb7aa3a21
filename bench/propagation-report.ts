// Figures and output of the propagation benchmark: nearest-rank percentiles, the table printed
// beside CF's polling model, and bench/results/propagation.json ({"bench","rows":[{metric, unit,
// ours, peer, peerValue, ratio}]}, ratio = ours / peerValue). Pure apart from the final write.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** CF's model: vxlan-policy-agent polls every 5 s, silk-daemon polls leases every 30 s (spec default). */
export const CF = {
  policyPollMs: 5000,
  acceptanceWaitMs: 7000,
  leasePollMs: 30_000,
  policyWorst: "cf-vxlan-policy-agent 5 s poll (worst case)",
  policyAverage: "cf-vxlan-policy-agent 5 s poll (average)",
  leaseWorst: "cf silk-daemon 30 s lease poll (worst case)",
  leaseAverage: "cf silk-daemon 30 s lease poll (average)",
} as const;

export const GOALS_P99_MS: Readonly<Record<number, number>> = { 1000: 100, 5000: 500 };

export interface RoundResult {
  readonly cells: number;
  readonly relevantCells: number;
  /** Policy created through REST until acked by every relevant cell, one sample per policy. */
  readonly policyMs: number[];
  /** REST round trip alone (commit and response), per policy. */
  readonly commitMs: number[];
  readonly policyTimeouts: number;
  readonly withoutPolicy: number;
  readonly extraneous: number;
  /** A lease acquired or released until every cell applied it. */
  readonly leaseMs: number[];
  readonly leaseTimeouts: number;
  /** CPU time spent per measured policy (machine-load independent, unlike the latencies). */
  readonly cpuPerPolicyMs: { readonly control: number; readonly agents: number; readonly postgres: number };
  /** Control's VmRSS and V8 heap before any cell connected, and with every cell connected. */
  readonly rss0Kb: number;
  readonly rssKb: number;
  readonly heap0Bytes: number | null;
  readonly heapBytes: number | null;
  readonly setupS: number;
  readonly setupCpuS: { readonly control: number; readonly agents: number };
  readonly othersCpuPct: number;
  readonly loadAvg: number;
}

export interface Row {
  readonly metric: string;
  readonly unit: string;
  readonly ours: number;
  readonly peer: string | null;
  readonly peerValue: number | null;
  readonly ratio: number | null;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

function row(metric: string, unit: string, ours: number, peer: string | null, peerValue: number | null): Row {
  return { metric, unit, ours: round2(ours), peer, peerValue, ratio: peerValue === null ? null : Math.round((ours / peerValue) * 10_000) / 10_000 };
}

export function buildRows(rounds: readonly RoundResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of rounds) {
    rows.push(row(`propagation_p50_ms_${r.cells}_cells`, "ms", percentile(r.policyMs, 50), CF.policyAverage, CF.policyPollMs / 2));
    rows.push(row(`propagation_p99_ms_${r.cells}_cells`, "ms", percentile(r.policyMs, 99), CF.policyWorst, CF.policyPollMs));
  }
  for (const r of rounds) {
    if (r.leaseMs.length === 0) continue;
    rows.push(row(`lease_propagation_p50_ms_${r.cells}_cells`, "ms", percentile(r.leaseMs, 50), CF.leaseAverage, CF.leasePollMs / 2));
    rows.push(row(`lease_propagation_p99_ms_${r.cells}_cells`, "ms", percentile(r.leaseMs, 99), CF.leaseWorst, CF.leasePollMs));
  }
  const perCell = (r: RoundResult) => (r.rssKb - r.rss0Kb) / r.cells;
  for (const r of rounds) if (r.cells >= 1000) rows.push(row(`control_mem_per_cell_kb_${r.cells}_cells`, "KB", perCell(r), null, null));
  const largest = rounds[rounds.length - 1];
  if (largest) {
    rows.push(row("control_mem_per_cell_kb", "KB", perCell(largest), null, null));
    if (largest.heapBytes !== null && largest.heap0Bytes !== null) {
      rows.push(row("control_heap_per_cell_kb", "KB", (largest.heapBytes - largest.heap0Bytes) / 1024 / largest.cells, null, null));
    }
  }
  return rows;
}

const fmt = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : "n/a");

export function printReport(rounds: readonly RoundResult[]): void {
  console.log("");
  console.log("policy created through REST -> acked by every relevant cell (agents' apply time, same machine clock)");
  console.log("cells  relevant  samples  commit p50  p50 ms  p99 ms  max ms  goal p99   vs CF 5 s poll (avg 2,500 / worst 5,000 ms; CF tests wait 7,000)");
  for (const r of rounds) {
    const goal = GOALS_P99_MS[r.cells];
    const p99 = percentile(r.policyMs, 99);
    const verdict = goal === undefined ? "-" : `${p99 <= goal ? "met" : "MISSED"} <=${goal}`;
    const ratio = `p50 ${(percentile(r.policyMs, 50) / (CF.policyPollMs / 2)).toFixed(4)}x, p99 ${(p99 / CF.policyPollMs).toFixed(4)}x`;
    console.log(
      `${String(r.cells).padStart(5)}  ${String(r.relevantCells).padStart(8)}  ${String(r.policyMs.length).padStart(7)}  ` +
        `${fmt(percentile(r.commitMs, 50)).padStart(10)}  ${fmt(percentile(r.policyMs, 50)).padStart(6)}  ${fmt(p99).padStart(6)}  ` +
        `${fmt(Math.max(...r.policyMs)).padStart(6)}  ${verdict.padEnd(9)}  ${ratio}`,
    );
    if (r.policyTimeouts || r.withoutPolicy || r.extraneous) {
      console.log(`       !! ${r.policyTimeouts} timed out, ${r.withoutPolicy} relevant cells without the policy, ${r.extraneous} irrelevant cells holding it`);
    }
  }
  console.log("CPU time per policy (independent of how busy the machine was):");
  for (const r of rounds) {
    const c = r.cpuPerPolicyMs;
    console.log(`${String(r.cells).padStart(5)} cells  control ${c.control.toFixed(1)} ms, agents ${c.agents.toFixed(1)} ms, our PostgreSQL backends ${c.postgres.toFixed(1)} ms`);
  }
  console.log("");
  console.log("lease acquired/released by a joining cell -> applied by every cell (extra row; CF silk-daemon polls leases every 30 s)");
  for (const r of rounds) {
    if (r.leaseMs.length === 0) continue;
    console.log(
      `${String(r.cells).padStart(5)} cells  samples ${r.leaseMs.length}  p50 ${fmt(percentile(r.leaseMs, 50))} ms  p99 ${fmt(percentile(r.leaseMs, 99))} ms` +
        `  (${r.leaseTimeouts} timed out)  vs 30,000 ms worst: ${(percentile(r.leaseMs, 99) / CF.leasePollMs).toFixed(4)}x`,
    );
  }
  console.log("");
  console.log("control memory (a fresh control per size): RSS with every cell connected minus RSS before any cell, per cell");
  for (const r of rounds) {
    const heap = r.heapBytes === null || r.heap0Bytes === null ? "" : `  (V8 heap used ${Math.round(r.heap0Bytes / 1048576)} -> ${Math.round(r.heapBytes / 1048576)} MB)`;
    console.log(
      `${String(r.cells).padStart(5)} cells  RSS ${Math.round(r.rss0Kb / 1024)} -> ${Math.round(r.rssKb / 1024)} MB: ${((r.rssKb - r.rss0Kb) / r.cells).toFixed(1)} KB per cell${heap}` +
        `   setup ${r.setupS.toFixed(0)} s (CPU: control ${r.setupCpuS.control.toFixed(0)} s, agents ${r.setupCpuS.agents.toFixed(0)} s)`,
    );
  }
  console.log("");
  console.log("noise: share of the machine's CPU time used by processes other than ours (control, the agents, the bench and");
  console.log("the PostgreSQL backends of our database) while the policies and leases were measured");
  for (const r of rounds) console.log(`${String(r.cells).padStart(5)} cells  others ${r.othersCpuPct.toFixed(0)}%  load average ${r.loadAvg.toFixed(2)}`);
}

export function writeResults(out: string, rows: readonly Row[]): void {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ bench: "propagation", rows }, null, 2)}\n`);
}
