// Runs one kernel tool inside a network namespace: `nsenter --net=<path> <tool> <args>`, with an
// optional payload on stdin (the batch or transaction). nsenter takes a namespace *path*, so the
// same code serves named namespaces, a runtime's /proc/<pid>/ns/net, and a cell's own namespace.
import { spawn } from "node:child_process";
import { WeftError } from "../../common/errors.js";
import type { Netns } from "./kernel-types.js";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

export type CommandRunner = (netns: Netns, argv: readonly string[], input?: string) => Promise<CommandResult>;

export class KernelCommandError extends WeftError {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | null, stderr: string, cause?: unknown) {
    super("INTERNAL", `${argv.join(" ")} failed (exit ${String(exitCode)}): ${stderr.trim().slice(0, 2000)}`, { cause });
    this.name = "KernelCommandError";
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface RunnerOptions {
  readonly nsenter?: string;
  readonly timeoutMs?: number;
}

export function createCommandRunner(opts: RunnerOptions = {}): CommandRunner {
  const nsenter = opts.nsenter ?? "nsenter";
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return (netns, argv, input) =>
    new Promise<CommandResult>((resolve, reject) => {
      const full = [`--net=${netns}`, ...argv];
      const child = spawn(nsenter, full, { stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.on("error", (cause) => reject(new KernelCommandError(argv, null, String(cause), cause)));
      child.on("close", (code) => {
        const stdout = Buffer.concat(out).toString("utf8");
        const stderr = Buffer.concat(err).toString("utf8");
        if (code === 0) resolve({ stdout, stderr });
        else reject(new KernelCommandError(argv, code, stderr || stdout));
      });
      child.stdin.on("error", () => undefined);
      child.stdin.end(input ?? "");
    });
}
