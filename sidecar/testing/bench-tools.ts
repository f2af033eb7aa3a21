// Measuring tools for bench/sidecar.ts: CPU time and proportional memory of process trees from
// /proc, and the load generators' output parsed (wrk --latency, hey).
import { execFile } from "node:child_process";
import { readFile, readdir } from "node:fs/promises";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const TICK_US = 1_000_000 / 100; // USER_HZ is 100 on Linux

/** A process and all of its descendants. */
export async function processTree(pid: number): Promise<number[]> {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const tasks = await readdir(`/proc/${all[i]}/task`).catch(() => [] as string[]);
    for (const t of tasks) {
      const kids = await readFile(`/proc/${all[i]}/task/${t}/children`, "utf8").catch(() => "");
      all.push(...kids.split(" ").filter(Boolean).map(Number));
    }
  }
  return all;
}

/** user+system CPU time of the processes (all threads, including finished ones), in µs. */
export async function cpuMicros(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks * TICK_US;
}

/** Proportional set size (shared pages split among their users) and RSS, in KiB, summed. */
export async function memoryKb(pids: readonly number[]): Promise<{ pssKb: number; rssKb: number }> {
  let pss = 0;
  let rss = 0;
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, "utf8").catch(() => "");
    pss += Number(/^Pss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    rss += Number(/^Rss:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { pssKb: pss, rssKb: rss };
}

export interface LoadResult {
  readonly requests: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): LoadResult {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0) + non2xx;
  return {
    requests,
    errors,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: toMs(/^\s+50%\s+(\S+)/m.exec(out)?.[1] ?? ""),
    p99Ms: toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? ""),
  };
}

export function parseHey(out: string): LoadResult {
  const ok = Number(/\[200\]\s+(\d+) responses/.exec(out)?.[1] ?? 0);
  const all = [...out.matchAll(/\[(\d+)\]\s+(\d+) responses/g)].reduce((a, m) => a + Number(m[2]), 0);
  const errLines = out.split("Error distribution:")[1] ?? "";
  const errors = [...errLines.matchAll(/\[(\d+)\]/g)].reduce((a, m) => a + Number(m[1]), 0) + (all - ok);
  return {
    requests: ok,
    errors,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: Number(/50% in ([\d.]+) secs/.exec(out)?.[1] ?? NaN) * 1000,
    p99Ms: Number(/99% in ([\d.]+) secs/.exec(out)?.[1] ?? NaN) * 1000,
  };
}

/** Runs a command to completion and returns stdout+stderr (load generators exit on their own). */
export async function run(cmd: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const r = await execFileP(cmd, [...args], { timeout: timeoutMs, maxBuffer: 16 << 20 });
  return `${r.stdout}${r.stderr}`;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
