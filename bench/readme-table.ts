// `npm run bench:readme` (after `npm run build`): rewrites the benchmark table in README.md from
// bench/results/*.json, between the `<!-- bench-table:start -->` and `<!-- bench-table:end -->`
// markers. Run a benchmark, then this, and the README shows its latest figures beside the peer's.
// The headline metrics (the ones each issue names) are listed in HEADLINES, in table order; a
// benchmark not listed there shows every row.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";

interface Row {
  metric: string;
  unit: string;
  ours: number | null;
  peer: string | null;
  peerValue: number | null;
  ratio: number | null;
}

/** bench -> metrics shown (every row of that metric, one per peer). */
const HEADLINES: readonly [string, readonly string[]][] = [
  ["api", ["create_per_s", "list_one_app_p99_ms"]],
  ["propagation", ["propagation_p99_ms_1000_cells", "propagation_p99_ms_5000_cells", "lease_propagation_p99_ms_1000_cells"]],
  ["ca", ["signs_per_s"]],
  ["cni", ["add_ready_p50_ms", "add_ready_p99_ms"]],
  ["enforce", ["conn_rate_50000", "conn_rate_50000_vs_bare", "conn_rate_ct_only_vs_bare", "conn_rate_linear_iptables_50000", "apply_one_ms_50000"]],
  ["dns", ["qps", "p99_ms_at_10k_qps"]],
  ["sidecar", ["cpu_us_per_req_keepalive", "cpu_us_per_req_newconn", "cpu_us_per_req_1mib", "mem_per_container_mb_250"]],
  ["asg", ["add_ms_1000_rules", "asg_change_100_containers_ms"]],
];

const fmt = (v: number | null | undefined): string => {
  if (v === null || v === undefined) return "-";
  if (Number.isInteger(v) || Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return String(Number(v.toPrecision(3)));
};

export function benchTable(resultsDir: string): string {
  const lines = ["| command | metric | ours | peer | peer's | ours / peer's |", "|---|---|---|---|---|---|"];
  // A result file without headlines (a new benchmark) shows all its rows, after the others.
  const known = new Set(HEADLINES.map(([b]) => b));
  const others = readdirSync(resultsDir)
    .filter((f) => f.endsWith(".json") && !known.has(f.slice(0, -5)))
    .sort()
    .map((f): [string, readonly string[] | undefined] => [f.slice(0, -5), undefined]);
  for (const [bench, metrics] of [...HEADLINES, ...others]) {
    const file = join(resultsDir, `${bench}.json`);
    if (!existsSync(file)) continue;
    const rows = (JSON.parse(readFileSync(file, "utf8")) as { rows: Row[] }).rows;
    for (const metric of metrics ?? [...new Set(rows.map((r) => r.metric))]) {
      for (const r of rows.filter((x) => x.metric === metric)) {
        lines.push(`| \`npm run bench:${bench}\` | ${r.metric} (${r.unit}) | ${fmt(r.ours)} | ${r.peer ?? "-"} | ${fmt(r.peerValue)} | ${fmt(r.ratio)} |`);
      }
    }
  }
  return lines.join("\n");
}

const START = "<!-- bench-table:start -->";
const END = "<!-- bench-table:end -->";

function main(): void {
  const root = packageRoot();
  const readmePath = join(root, "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} ... ${END} section`);
  const next = `${readme.slice(0, a + START.length)}\n${benchTable(join(root, "bench", "results"))}\n${readme.slice(b)}`;
  writeFileSync(readmePath, next);
  process.stdout.write(`README.md benchmark table rewritten from bench/results/*.json\n`);
}

main();
