// A real `weft sidecar --instance` process for tests that measure it from outside (memory, file
// descriptors): it runs from the TypeScript sources through tsx, on loopback, with its soft
// open-file limit raised to the hard one, and is killed by stop().
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { eventually } from "../../common/eventually.js";
import { packageRoot } from "../../common/package-root.js";
import type { ProxyLimits } from "../config.js";
import { processTree } from "./bench-tools.js";
import { unusedPort } from "./harness.js";

export interface ChildSidecar {
  readonly pid: number;
  readonly port: number;
  readonly opsPort: number;
  /** Resident set size in KiB, from /proc: the process and its children (the native data path). */
  rssKb(): Promise<number>;
  /** A sample's value: `name` alone, or with labels that must all be on the sample. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

/** Runs argv with the soft open-file limit raised to the hard limit (no privilege needed). */
export function withRaisedFdLimit(argv: readonly string[]): [string, string[]] {
  return ["sh", ["-c", 'ulimit -n "$(ulimit -Hn)" && exec "$@"', "sh", ...argv]];
}

export async function startChildSidecar(o: { channelDir: string; instanceGuid: string; limits: ProxyLimits }): Promise<ChildSidecar> {
  const port = await unusedPort();
  const opsPort = await unusedPort();
  const args = [
    process.execPath,
    "--import",
    "tsx",
    "cli/main.ts",
    "sidecar",
    "--instance",
    o.instanceGuid,
    "--channel-dir",
    o.channelDir,
    "--listen-host",
    "127.0.0.1",
    "--port",
    String(port),
    "--ops-listen",
    `127.0.0.1:${opsPort}`,
    "--handshake-timeout",
    String(o.limits.handshakeTimeoutMs),
    "--idle-timeout",
    String(o.limits.idleTimeoutMs),
    "--connect-timeout",
    String(o.limits.connectTimeoutMs),
    "--max-connections",
    String(o.limits.maxConnections),
    "--max-pending-handshakes",
    String(o.limits.maxPendingHandshakes),
    "--log-level",
    "warn",
  ];
  const [cmd, argv] = withRaisedFdLimit(args);
  const child: ChildProcess = spawn(cmd, argv, { cwd: packageRoot(), stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
  const pid = child.pid!;
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    const line = text.split("\n").find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && wanted.every((w) => l.includes(w)));
    if (line === undefined) throw new Error(`no metric ${name} ${wanted.join(",")}`);
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  };
  try {
    await eventually(() => metric("weft_sidecar_containers"), { timeoutMs: 60_000, intervalMs: 100, message: `sidecar child did not start (${stderr})` });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    pid,
    port,
    opsPort,
    async rssKb() {
      let kb = 0;
      for (const p of await processTree(pid)) {
        const status = await readFile(`/proc/${p}/status`, "utf8").catch(() => "");
        kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      }
      return kb;
    },
    metric,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}
