// A long-lived `nft -i` per namespace, so a small transaction costs a write and a read instead of
// starting nsenter and nft (the bigger part of a one-policy change on a busy cell).
//
// nft -i runs each input line as one transaction (atomic, like `nft -f`), prints nothing on
// success and its errors on stderr, which is unbuffered. After each transaction we send a marker
// line that cannot parse (`weftsync<seq>`); its syntax error echoes the marker back, so everything
// on stderr before the marker's own error belongs to the transaction. A syntax error never reaches
// the kernel (a failing kernel command as marker cost ~7 ms per change here). The process is
// unref'd while idle and ended by close(), on error, or when its namespace goes.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { KernelCommandError } from "./command-runner.js";

const MARKER = "weftsync";
/** Child stdio pipes are sockets; their handles can be (un)ref'd. */
const handle = (s: Readable): Partial<Pick<Socket, "ref" | "unref">> => s as Partial<Pick<Socket, "ref" | "unref">>;
const TIMEOUT_MS = 30_000;

interface Pending {
  readonly seq: number;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class NftSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = "";
  private seq = 0;
  private pending: Pending | undefined;
  private dead: Error | undefined;

  constructor(netns: string, nsenter = "nsenter") {
    this.child = spawn(nsenter, [`--net=${netns}`, "nft", "-i"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", () => undefined);
    this.child.stderr.on("data", (b: Buffer) => {
      this.stderr += b.toString("utf8");
      this.settle();
    });
    const fail = (why: string) => {
      this.dead ??= new KernelCommandError(["nft", "-i"], this.child.exitCode, why);
      this.finish(this.dead);
    };
    this.child.on("error", (err) => fail(String(err)));
    this.child.on("exit", () => fail(`nft -i exited: ${this.stderr.trim()}`));
    this.child.stdin.on("error", () => undefined);
    this.idle();
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  /** Runs newline-separated commands as one transaction. One at a time (the kernel lock). */
  run(payload: string): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    const line = payload
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .join("; ");
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.finish(new KernelCommandError(["nft", "-i"], null, `no answer within ${TIMEOUT_MS} ms`));
        this.close();
      }, TIMEOUT_MS);
      this.pending = { seq, resolve, reject, timer };
      this.busy();
      this.child.stdin.write(`${line}\n${MARKER}${seq}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
  }

  private settle(): void {
    const p = this.pending;
    if (!p) return;
    // The marker's error: "Error: syntax error, ...\nweftsyncN\n<carets>\n".
    const echo = new RegExp(`(^|\\n)(Error:[^\\n]*\\n)${MARKER}${p.seq}\\n[ ^]*\\n`).exec(this.stderr);
    if (!echo) return;
    const own = this.stderr.slice(0, echo.index + (echo[1] ?? "").length);
    this.stderr = this.stderr.slice(echo.index + echo[0].length);
    this.finish(own.trim() === "" ? undefined : new KernelCommandError(["nft", "-i"], 1, own));
  }

  private finish(err: Error | undefined): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    this.idle();
    if (err) p.reject(err);
    else p.resolve();
  }

  // While idle the session must not keep the process alive; while waiting it must.
  private idle(): void {
    this.child.unref();
    handle(this.child.stderr).unref?.();
    handle(this.child.stdout).unref?.();
  }

  private busy(): void {
    this.child.ref();
    handle(this.child.stderr).ref?.();
  }
}
