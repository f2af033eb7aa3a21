// `weft down`, and the first step of `weft up`: removes everything a previous up-mesh made, from its
// state file and from what is still there. Processes first (recorded pids whose start time still
// matches, then anything running inside the mesh's namespaces), then the namespaces (which takes
// every link, address, route and nftables rule inside them along), then the /etc/netns entries.
// Nothing in the machine's own namespace is touched: the mesh never made anything there.
import { execFile } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { processStartTime, readState, statePath, type UpState } from "./state.js";

const execFileP = promisify(execFile);
/** What `weft up` makes in its state dir besides logs/ (only these are removed). */
const MADE = new Set(["control", "cells", "run"]);

export interface TeardownReport {
  readonly killed: number;
  readonly namespaces: string[];
}

export async function listNamespaces(): Promise<string[]> {
  const out = await execFileP("ip", ["-j", "netns", "list"]).then(
    (r) => r.stdout,
    () => "[]",
  );
  try {
    return (JSON.parse(out || "[]") as { name: string }[]).map((n) => n.name);
  } catch {
    return [];
  }
}

async function pidsIn(ns: string): Promise<number[]> {
  const out = await execFileP("ip", ["netns", "pids", ns]).then(
    (r) => r.stdout,
    () => "",
  );
  return out.split(/\s+/).filter(Boolean).map(Number).filter((p) => p !== process.pid);
}

const alive = (pid: number) => processStartTime(pid) !== undefined;

async function killAll(pids: Set<number>): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        pids.delete(pid);
      }
    }
  };
  signal("SIGTERM");
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && [...pids].some(alive)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of [...pids]) if (!alive(pid)) pids.delete(pid);
  if (pids.size === 0) return;
  signal("SIGKILL");
  const hard = Date.now() + 2000;
  while (Date.now() < hard && [...pids].some(alive)) await new Promise((r) => setTimeout(r, 20));
}

/** The mesh's namespaces: the recorded ones, and any `${prefix}-...` leftover. */
async function meshNamespaces(state: UpState | undefined, prefix: string): Promise<string[]> {
  const existing = await listNamespaces();
  const wanted = new Set(state?.namespaces ?? []);
  return existing.filter((n) => wanted.has(n) || n.startsWith(`${prefix}-`));
}

export async function teardown(stateDir: string, prefix: string): Promise<TeardownReport> {
  const state = readState(stateDir);
  const pfx = state?.prefix ?? prefix;
  const pids = new Set<number>();
  for (const p of state?.processes ?? []) if (p.pid !== process.pid && processStartTime(p.pid) === p.startTime) pids.add(p.pid);
  const namespaces = await meshNamespaces(state, pfx);
  for (const ns of namespaces) for (const pid of await pidsIn(ns)) pids.add(pid);
  const killed = pids.size;
  await killAll(pids);
  // A process that was starting inside a namespace while we looked: one more pass.
  const late = new Set<number>();
  for (const ns of namespaces) for (const pid of await pidsIn(ns)) late.add(pid);
  await killAll(late);
  const errors: string[] = [];
  for (const ns of namespaces) {
    await execFileP("ip", ["netns", "del", ns]).catch((err: { stderr?: string; message: string }) => {
      if (existsSync(join("/var/run/netns", ns))) errors.push(`${ns}: ${(err.stderr ?? err.message).trim()}`);
    });
  }
  for (const dir of state?.etcNetns ?? []) {
    if (dir.startsWith("/etc/netns/")) rmSync(dir, { recursive: true, force: true });
  }
  for (const ns of namespaces) rmSync(join("/etc/netns", ns), { recursive: true, force: true });
  if (errors.length > 0) throw new Error(`could not remove namespaces: ${errors.join("; ")}`);
  // Runtime state goes (so the CLI no longer points at a dead mesh); the logs stay for reading.
  rmSync(statePath(stateDir), { force: true });
  if (existsSync(stateDir)) {
    for (const entry of readdirSync(stateDir)) if (MADE.has(entry)) rmSync(join(stateDir, entry), { recursive: true, force: true });
  }
  return { killed: killed + late.size, namespaces };
}
