// The state file of `weft up` (STATE_DIR/state.json): everything the mesh made that must be undone,
// written *before* each thing is made, so `weft down` (or the next `weft up`) can remove it even
// after a crash. Processes are recorded with their start time, so a recycled pid is never killed.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const DEFAULT_STATE_DIR = ".weft/up";
export const DEFAULT_PREFIX = "weft";

export interface RecordedProcess {
  readonly name: string;
  readonly pid: number;
  /** /proc/<pid>/stat field 22 (start time in clock ticks): a pid with another start time is not ours. */
  readonly startTime: string;
}

export interface UpState {
  readonly version: 1;
  /** Namespaces are named `${prefix}-...`; `weft down` also removes any such leftover. */
  readonly prefix: string;
  readonly stateDir: string;
  /** "starting" until every check ran, then "up". */
  status: "starting" | "up";
  apiUrl?: string;
  controlDataDir?: string;
  namespaces: string[];
  processes: RecordedProcess[];
  /** /etc/netns/<ns> directories (a container's resolv.conf, as `ip netns exec` uses it). */
  etcNetns: string[];
}

export const statePath = (stateDir: string) => join(stateDir, "state.json");

export function newState(stateDir: string, prefix: string): UpState {
  return { version: 1, prefix, stateDir: resolve(stateDir), status: "starting", namespaces: [], processes: [], etcNetns: [] };
}

export function readState(stateDir: string): UpState | undefined {
  const file = statePath(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    const s = JSON.parse(readFileSync(file, "utf8")) as UpState;
    if (s.version !== 1 || typeof s.prefix !== "string" || !Array.isArray(s.namespaces) || !Array.isArray(s.processes)) return undefined;
    return { ...s, etcNetns: Array.isArray(s.etcNetns) ? s.etcNetns : [] };
  } catch {
    return undefined;
  }
}

/** Written whole (temp file + rename), synchronously, so a crash leaves the old or the new file. */
export function saveState(state: UpState): void {
  mkdirSync(state.stateDir, { recursive: true });
  const file = statePath(state.stateDir);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + "\n");
  renameSync(tmp, file);
}

/** The start time of a live process, or undefined if there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19];
  } catch {
    return undefined;
  }
}

/** Where the CLI finds a running up-mesh: its API URL and control data dir (admin token, api.crt). */
export function upEndpoint(stateDir: string): { apiUrl: string; dataDir: string } | undefined {
  const s = readState(stateDir);
  if (!s?.apiUrl || !s.controlDataDir) return undefined;
  return { apiUrl: s.apiUrl, dataDir: s.controlDataDir };
}
