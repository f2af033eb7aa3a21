// The real weft processes of an end-to-end mesh, each started from dist through bin/weft.js inside a
// network namespace (nsenter), with the tail of its output kept for error messages. A process can be
// stopped (SIGTERM, or SIGKILL for a crash) and started again with the same arguments.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { packageRoot } from "../../../common/package-root.js";
import type { Namespace } from "../../support/netns-fixture.js";

export const WEFT_BIN = join(packageRoot(), "bin", "weft.js");

export interface MeshProcess {
  readonly name: string;
  readonly child: () => ChildProcess | undefined;
  /** The last few KB of stdout and stderr. */
  readonly tail: () => string;
  readonly running: () => boolean;
  start(): void;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A command run inside `ns`, in its own process group so that stop() reaches everything it started. */
export function meshProcess(name: string, ns: Namespace, argv: readonly string[], env: Record<string, string> = {}): MeshProcess {
  let child: ChildProcess | undefined;
  let tail = "";
  const keep = (b: Buffer) => {
    tail = (tail + b.toString("utf8")).slice(-6000);
  };
  const self: MeshProcess = {
    name,
    child: () => child,
    tail: () => tail,
    running: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    start() {
      if (self.running()) throw new Error(`${name} is already running`);
      const c = spawn("nsenter", [`--net=${ns.path}`, ...argv], { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, ...env } });
      c.stdout.on("data", keep);
      c.stderr.on("data", keep);
      c.on("error", (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
      child = c;
    },
    async stop(signal = "SIGTERM") {
      const c = child;
      if (c === undefined || c.pid === undefined || !self.running()) return;
      const exited = once(c, "exit");
      try {
        process.kill(-c.pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-c.pid!, "SIGKILL");
        } catch {
          // gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return self;
}

/** `node bin/weft.js ...args`. */
export const weftArgv = (args: readonly string[]): string[] => [process.execPath, WEFT_BIN, ...args];
