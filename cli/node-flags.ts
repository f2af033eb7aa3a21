// Node/V8 flags a subcommand needs from process start (V8 reads them when the heap is set up; set
// later with v8.setFlagsFromString, --single-threaded-gc aborts the process at the next GC), and the
// relaunch that gives them: bin/weft.js runs such a subcommand as a child node process with the
// flags, forwards signals to it and exits with its status.
//
// `weft dns`: --single-threaded-gc. The server is one event loop, and where a cell pins it to one
// core (as bench:dns does), V8's background GC threads (parallel scavenge, concurrent marking and
// sweeping, cppgc sweeping) can only run by preempting it, and the main thread waits on them: with
// the server pinned to one core and the other kept busy, at a fixed 10,000 q/s, p99 was 15-42 ms
// with the default GC and 0.12-0.6 ms with --single-threaded-gc (unbound 0.24 ms); CPU per query
// at saturation did not change (7.7-8.3 us either way). See bench/dns.ts.
import { spawn } from "node:child_process";

export const DNS_NODE_FLAGS: readonly string[] = Object.freeze(["--single-threaded-gc"]);

/** The flags `weft <argv>` needs that this process was not started with. */
export function missingNodeFlags(argv: readonly string[], execArgv: readonly string[]): string[] {
  const needed = argv[0] === "dns" ? DNS_NODE_FLAGS : [];
  return needed.filter((f) => !execArgv.includes(f));
}

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"] as const;

/**
 * Runs `node <execArgv> <flags> <script> <argv>` and mirrors it: signals sent to this process are
 * passed on, and this process exits as the child did. The child is in a process group of its own
 * (so a terminal's Ctrl-C reaches it once, through here) and has an IPC channel, so that it stops
 * when this process dies, even by SIGKILL (cli/commands/dns.ts watches "disconnect").
 */
export function relaunch(script: string, argv: readonly string[], flags: readonly string[]): void {
  const child = spawn(process.execPath, [...process.execArgv, ...flags, script, ...argv], { stdio: ["inherit", "inherit", "inherit", "ipc"], detached: true });
  for (const signal of FORWARDED_SIGNALS) process.on(signal, () => child.kill(signal));
  child.on("error", (err) => {
    process.stderr.write(`weft: cannot start ${process.execPath}: ${err.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    if (signal) {
      for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
