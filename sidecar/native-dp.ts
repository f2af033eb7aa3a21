// The native data path: one weft-tlsd process (sidecar/dp/weft-tlsd.c, built to dist/bin/) that
// terminates TLS with OpenSSL and moves the bytes for every L4 container of this sidecar. This
// module is its manager:
// - it drives the process over its stdin/stdout line protocol (add/cert/remove/stats, one reply per
//   request, in order), with the PEM texts base64-encoded;
// - it supervises it: when the process dies it is started again (backoff 100 ms doubling to 5 s,
//   reset after 30 s up) and every container it served is added again on the same port (one that
//   cannot be, e.g. its port taken meanwhile, is retried every 5 s and reported by notServed());
// - it turns the process's cumulative counters into the sidecar's Prometheus counters (deltas at
//   each scrape, so a restart loses nothing but the counts since the last scrape).
// The binary may be missing (built without OpenSSL headers): nativeDataPathBinary() says so and the
// sidecar serves everything with node:tls.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DEFAULT_CIPHERS } from "node:tls";
import { WeftError, errorMessage, type WeftErrorCode } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { packageRoot } from "../common/package-root.js";
import type { ProxyLimits } from "./config.js";
import type { ServingCredentials } from "./credentials.js";
import type { SidecarMetrics } from "./metrics.js";

/** The built binary, or undefined when it was not built. */
export function nativeDataPathBinary(): string | undefined {
  const p = join(packageRoot(), "dist", "bin", "weft-tlsd");
  return existsSync(p) ? p : undefined;
}

export interface NativeListen {
  /** undefined: our own namespace. */
  readonly netnsPath?: string;
  readonly host: string;
  readonly port: number;
}

export interface NativeContainer {
  readonly listen: NativeListen;
  readonly upstream: { readonly host: string; readonly port: number };
  readonly alpn: readonly string[];
  creds: ServingCredentials;
}

export interface NativeStats {
  readonly active: number;
  readonly pending: number;
  readonly perContainer: ReadonlyMap<number, number>;
}

export interface NativeDataPathOptions {
  readonly binary: string;
  readonly limits: ProxyLimits;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

const TOKEN_CODES = new Set<WeftErrorCode>(["INVALID_ARGUMENT", "NOT_FOUND", "CONFLICT", "FORBIDDEN", "INTERNAL"]);
const COUNTERS = ["proxied", "handshake_failed", "upstream_failed", "refused", "evicted", "idle_timeout", "bytesFrom", "bytesTo"] as const;
type CounterName = (typeof COUNTERS)[number];

const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

/** ALPN protocol names in the TLS wire format (length-prefixed). */
export function alpnWire(protocols: readonly string[]): Buffer {
  const parts = protocols.map((p) => {
    const b = Buffer.from(p, "utf8");
    if (b.length < 1 || b.length > 255) throw new WeftError("INVALID_ARGUMENT", `ALPN protocol ${JSON.stringify(p)} must be 1-255 bytes`);
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat(parts);
}

/** node:tls's default cipher settings, split as OpenSSL takes them (TLS 1.3 suites apart). */
function cipherArgs(): string[] {
  const all = DEFAULT_CIPHERS.split(":");
  const suites = all.filter((c) => c.startsWith("TLS_"));
  const ciphers = all.filter((c) => !c.startsWith("TLS_"));
  return ["--ciphers", ciphers.join(":"), "--ciphersuites", suites.join(":")];
}

interface Pending {
  resolve(tokens: string[]): void;
  reject(err: Error): void;
}

export class NativeDataPath {
  private child: ChildProcess | undefined;
  private readonly waiting: Pending[] = [];
  private readonly containers = new Map<number, NativeContainer & { boundPort?: number }>();
  private nextId = 1;
  private seq = 1;
  private closed = false;
  private starting: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private startedAt = 0;
  private statsInFlight: Promise<NativeStats> | undefined;
  /** Containers the current process should serve but does not (re-adding failed), with why. */
  private readonly lost = new Map<number, string>();
  private lostTimer: NodeJS.Timeout | undefined;
  private lastStats: NativeStats = { active: 0, pending: 0, perContainer: new Map() };
  /** Counters as last seen from the current process (they restart at 0 with it). */
  private seen: Record<CounterName, number> = NativeDataPath.zero();
  /** How many times the process was started. */
  starts = 0;

  private static zero(): Record<CounterName, number> {
    return Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Record<CounterName, number>;
  }

  constructor(private readonly opts: NativeDataPathOptions) {
    this.backoffMs = opts.backoff?.initialMs ?? 100;
  }

  /** Starts the process; resolves once it is ready. */
  async start(): Promise<void> {
    await this.spawnProcess();
  }

  /** The process's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawnProcess(): Promise<void> {
    if (this.starting) return this.starting;
    const l = this.opts.limits;
    const args = [
      "--handshake-timeout-ms", String(l.handshakeTimeoutMs),
      "--idle-timeout-ms", String(l.idleTimeoutMs),
      "--connect-timeout-ms", String(l.connectTimeoutMs),
      "--max-connections", String(l.maxConnections),
      "--max-pending-handshakes", String(l.maxPendingHandshakes),
      ...cipherArgs(),
    ];
    const child = spawn(this.opts.binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.starts++;
    this.seen = NativeDataPath.zero();
    const log = this.opts.logger;
    let ready!: () => void;
    let failed!: (err: Error) => void;
    const readyP = new Promise<void>((res, rej) => {
      ready = res;
      failed = rej;
    });
    const lines = createInterface({ input: child.stdout });
    let isReady = false;
    lines.on("line", (line) => {
      if (!isReady) {
        if (line === "- ready") {
          isReady = true;
          ready();
        }
        return;
      }
      this.onReply(line);
    });
    createInterface({ input: child.stderr }).on("line", (line) => log.warn({ pid: child.pid, line }, "native-data-path-stderr"));
    child.stdin.on("error", () => undefined); // EPIPE when it died: 'exit' handles it
    child.once("error", (err) => failed(new WeftError("INTERNAL", `cannot start ${this.opts.binary}: ${err.message}`, { cause: err })));
    child.once("exit", (code, signal) => {
      failed(new WeftError("INTERNAL", `${this.opts.binary} exited with ${code ?? signal} before it was ready`));
      if (this.child === child) this.child = undefined;
      const gone = new WeftError("INTERNAL", `the native data path exited (${code ?? signal})`);
      for (const w of this.waiting.splice(0)) w.reject(gone);
      if (this.closed) return;
      log.error({ pid: child.pid, code, signal, containers: this.containers.size }, "native-data-path-exited");
      this.scheduleRestart();
    });
    this.startedAt = Date.now();
    this.starting = readyP.finally(() => (this.starting = undefined));
    return this.starting;
  }

  private scheduleRestart(): void {
    if (Date.now() - this.startedAt > 30_000) this.backoffMs = this.opts.backoff?.initialMs ?? 100;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(delay * 2, this.opts.backoff?.maxMs ?? 5_000);
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => void this.restart(), delay);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    if (this.closed) return;
    try {
      await this.spawnProcess();
    } catch (err) {
      this.opts.logger.error({ err }, "native-data-path-start-failed");
      if (this.child === undefined) this.scheduleRestart();
      return;
    }
    this.lost.clear();
    for (const id of this.containers.keys()) this.lost.set(id, "not added yet");
    await this.readdLost();
    this.opts.logger.info({ pid: this.pid, containers: this.containers.size - this.lost.size, notServed: this.lost.size }, "native-data-path-restarted");
  }

  /** Adds again, on the same port, the containers the current process does not serve. */
  private async readdLost(): Promise<void> {
    clearTimeout(this.lostTimer);
    for (const id of [...this.lost.keys()]) {
      const c = this.containers.get(id);
      if (c === undefined) {
        this.lost.delete(id);
        continue;
      }
      try {
        // The same port as before: with port 0 (tests) the one the kernel gave the first time.
        await this.sendAdd(id, { ...c, listen: { ...c.listen, port: c.boundPort ?? c.listen.port } });
        this.lost.delete(id);
      } catch (err) {
        if (this.child === undefined || this.closed) return; // died again: the next restart re-adds
        this.lost.set(id, errorMessage(err));
        this.opts.logger.error({ err, id }, "native-data-path-readd-failed");
      }
    }
    if (this.lost.size > 0 && !this.closed) {
      this.lostTimer = setTimeout(() => void this.readdLost(), 5_000);
      this.lostTimer.unref();
    }
  }

  /** Containers that should be served natively but are not (after a restart), with why. */
  notServed(): ReadonlyMap<number, string> {
    return this.lost;
  }

  private onReply(line: string): void {
    const tokens = line.split(" ");
    const w = this.waiting.shift();
    if (w === undefined) {
      this.opts.logger.warn({ line }, "native-data-path-unexpected-reply");
      return;
    }
    if (tokens[1] === "ok") w.resolve(tokens.slice(2));
    else {
      const code = tokens[2] as WeftErrorCode;
      w.reject(new WeftError(TOKEN_CODES.has(code) ? code : "INTERNAL", `native data path: ${tokens.slice(3).join(" ") || line}`));
    }
  }

  private async request(command: string): Promise<string[]> {
    if (this.closed) throw new WeftError("INTERNAL", "the native data path is closed");
    if (this.starting) await this.starting.catch(() => undefined);
    const child = this.child;
    if (child === undefined || child.stdin === null || !child.stdin.writable) throw new WeftError("INTERNAL", "the native data path is not running (restarting)");
    return new Promise<string[]>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin!.write(`${this.seq++} ${command}\n`);
    });
  }

  private sendAdd(id: number, c: NativeContainer): Promise<string[]> {
    const alpn = c.alpn.length > 0 ? b64(alpnWire(c.alpn)) : "-";
    return this.request(["add", String(id), c.listen.netnsPath ?? "-", c.listen.host, String(c.listen.port), c.upstream.host, String(c.upstream.port), alpn, b64(c.creds.chainPem), b64(c.creds.keyPem)].join(" "));
  }

  /** Starts serving a container; resolves with its id and the port bound. */
  async add(c: NativeContainer): Promise<{ id: number; port: number }> {
    for (const v of [c.listen.netnsPath ?? "-", c.listen.host, c.upstream.host]) {
      if (v === "" || /\s/.test(v)) throw new WeftError("INVALID_ARGUMENT", `invalid value ${JSON.stringify(v)} for the native data path`);
    }
    const id = this.nextId++;
    const [port] = await this.sendAdd(id, c);
    const bound = Number(port);
    this.containers.set(id, { ...c, boundPort: bound });
    return { id, port: bound };
  }

  async rotate(id: number, creds: ServingCredentials): Promise<void> {
    const c = this.containers.get(id);
    if (c === undefined) throw new WeftError("NOT_FOUND", `native container ${id} is not served`);
    await this.request(`cert ${id} ${b64(creds.chainPem)} ${b64(creds.keyPem)}`);
    c.creds = creds;
  }

  async remove(id: number): Promise<void> {
    if (!this.containers.delete(id)) return;
    if (this.lost.delete(id)) return;
    try {
      await this.request(`remove ${id}`);
    } catch (err) {
      // Gone with a crashed process, or not re-added: nothing is served for it either way.
      this.opts.logger.debug({ err: errorMessage(err), id }, "native-remove-failed");
    }
  }

  /** Open connections of one container at the last stats. */
  connectionsOf(id: number): number {
    return this.lastStats.perContainer.get(id) ?? 0;
  }

  get activeConnections(): number {
    return this.lastStats.active;
  }

  /** Reads the counters, adds what is new to the metrics, and keeps the gauges' values. */
  refresh(): Promise<NativeStats> {
    this.statsInFlight ??= this.readStats().finally(() => (this.statsInFlight = undefined));
    return this.statsInFlight;
  }

  private async readStats(): Promise<NativeStats> {
    let tokens: string[];
    try {
      tokens = await this.request("stats");
    } catch {
      return this.lastStats; // restarting: the last numbers stand
    }
    const n = tokens.slice(0, 10).map(Number);
    const counters = Object.fromEntries(COUNTERS.map((c, i) => [c, n[i + 2] ?? 0])) as Record<CounterName, number>;
    const m = this.opts.metrics;
    const delta = (c: CounterName) => Math.max(0, counters[c] - this.seen[c]);
    m.connections.proxied.inc(delta("proxied"));
    m.connections.handshake_failed.inc(delta("handshake_failed"));
    m.connections.upstream_failed.inc(delta("upstream_failed"));
    m.connections.refused.inc(delta("refused"));
    m.connections.evicted.inc(delta("evicted"));
    m.connections.idle_timeout.inc(delta("idle_timeout"));
    m.bytes.fromClients.inc(delta("bytesFrom"));
    m.bytes.toClients.inc(delta("bytesTo"));
    this.seen = counters;
    const perContainer = new Map<number, number>();
    for (const t of tokens.slice(10)) {
      const [id, active] = t.split(":").map(Number);
      if (id !== undefined && active !== undefined) perContainer.set(id, active);
    }
    this.lastStats = { active: n[0] ?? 0, pending: n[1] ?? 0, perContainer };
    return this.lastStats;
  }

  /** Stops the process (its connections close with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.lostTimer);
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.stdin?.end(); // end of input ends the process
    const t = setTimeout(() => child.kill("SIGKILL"), 2_000);
    await exited;
    clearTimeout(t);
  }
}
