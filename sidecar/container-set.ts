// The containers this sidecar serves, converged from the channel directory: sync(guid) reads
// containers/<guid>.json and makes the running state match it, then writes status/<guid>.json.
//
// - A new container gets a listener (from listenerFor: inside its namespace in shared mode) and a
//   TLS front with its own certificate. Plain L4 forwarding (forward "tcp", no client
//   certificates) is served by the native data path when there is one (native-front.ts); mutual
//   TLS, PROXY v2 and HTTP/XFCC by node:tls (tls-front.ts).
// - A new generation with only new credentials is a hot rotation (no listener change, no
//   connection dropped). A change of address, port or options replaces the front.
// - Credentials that fail the checks are refused and the previous ones stay in service (the
//   status says failed, with the generation still served). A listener that cannot be made (the
//   namespace not ready, the port taken) is retried with backoff while the file exists.
// - A deleted file closes the container's listener and connections and removes its status.
// Calls for one container are serialized; calls arriving during an apply coalesce into one re-read.
import { readFile, rm } from "node:fs/promises";
import { type Logger } from "../common/logger.js";
import { WeftError, errorMessage, isWeftError } from "../common/errors.js";
import {
  DEFAULT_APP_PORT,
  channelPaths,
  parseContainerFile,
  writeFileReplacing,
  type SidecarContainerFile,
  type SidecarContainerStatus,
} from "../common/sidecar-contract.js";
import type { ProxyLimits } from "./config.js";
import { checkCredentials, type ServingCredentials } from "./credentials.js";
import { createHttpForward } from "./http-forward.js";
import { createL4Forward } from "./l4-forward.js";
import type { SidecarMetrics } from "./metrics.js";
import type { NativeDataPath } from "./native-dp.js";
import { NativeFront } from "./native-front.js";
import { TlsFront, type Front, type ListenTarget } from "./tls-front.js";

export interface ContainerSetOptions {
  readonly channelDir: string;
  readonly listenerFor: (spec: SidecarContainerFile) => Promise<ListenTarget>;
  readonly limits: ProxyLimits;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** Serves plain L4 containers; undefined = node:tls for every container. */
  readonly native?: NativeDataPath;
}

interface Served {
  readonly shape: string;
  readonly front: Front;
  generation: number;
  creds: ServingCredentials;
  port: number;
}

interface Runner {
  running: boolean;
  again: boolean;
  retryMs: number;
  timer?: NodeJS.Timeout;
}

const shapeOf = (f: SidecarContainerFile): string =>
  JSON.stringify([f.netnsPath, f.containerIp, f.appPort ?? DEFAULT_APP_PORT, f.options ?? {}]);

/** The generation a file that failed its checks claims, so the agent waiting for it hears the refusal. */
function claimedGeneration(text: string): number {
  try {
    const g = (JSON.parse(text) as { generation?: unknown }).generation;
    return typeof g === "number" && Number.isSafeInteger(g) ? g : 0;
  } catch {
    return 0;
  }
}

const uriOf = (creds: ServingCredentials): string | undefined =>
  (creds.leaf.subjectAltName ?? "").split(", ").find((s) => s.startsWith("URI:"))?.slice(4);

export class ContainerSet {
  private readonly served = new Map<string, Served>();
  private readonly failed = new Map<string, string>();
  private readonly runners = new Map<string, Runner>();
  private readonly paths;
  private stopped = false;

  constructor(private readonly opts: ContainerSetOptions) {
    this.paths = channelPaths(opts.channelDir);
  }

  /** Converges one container; resolves when this and any coalesced re-read are done. */
  async sync(guid: string): Promise<void> {
    let r = this.runners.get(guid);
    if (r === undefined) {
      r = { running: false, again: false, retryMs: this.opts.retry?.initialMs ?? 1_000 };
      this.runners.set(guid, r);
    }
    if (r.running) {
      r.again = true;
      return;
    }
    r.running = true;
    try {
      do {
        r.again = false;
        clearTimeout(r.timer);
        await this.apply(guid, r);
      } while (r.again && !this.stopped);
    } finally {
      r.running = false;
    }
  }

  private async apply(guid: string, runner: Runner): Promise<void> {
    const log = this.opts.logger.child({ instance: guid });
    let text: string | undefined;
    try {
      text = await readFile(this.paths.container(guid), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text === undefined || this.stopped) {
      await this.remove(guid, log);
      return;
    }
    let file: SidecarContainerFile | undefined;
    try {
      file = parseContainerFile(text);
      if (file.instanceGuid !== guid) throw new WeftError("INVALID_ARGUMENT", `file names instance ${file.instanceGuid}`);
      const current = this.served.get(guid);
      if (current !== undefined && current.generation >= file.generation) return;
      const creds = checkCredentials(file.credentials, { requireClientCerts: file.options?.clientCertificates === "require" });
      if (current !== undefined && current.shape === shapeOf(file)) {
        await current.front.rotate(creds);
        current.creds = creds;
        current.generation = file.generation;
        log.info({ generation: file.generation, serial: creds.serialNumber, notAfter: creds.notAfter }, "certificate-rotated");
      } else {
        if (current !== undefined) {
          this.served.delete(guid);
          await current.front.close();
        }
        await this.start(file, creds, log);
      }
      runner.retryMs = this.opts.retry?.initialMs ?? 1_000;
      this.failed.delete(guid);
      this.opts.metrics.setCertificateExpiry(guid, creds.notAfter);
      await this.writeStatus(guid, { generation: file.generation, state: "serving", servingGeneration: file.generation, serialNumber: creds.serialNumber, notAfter: creds.notAfter.toISOString() });
    } catch (err) {
      this.opts.metrics.applyFailures.inc();
      const code = isWeftError(err) ? err.code : "INTERNAL";
      this.failed.set(guid, errorMessage(err));
      const served = this.served.get(guid);
      log.error({ err, generation: file?.generation, servingGeneration: served?.generation }, "container-apply-failed");
      await this.writeStatus(guid, {
        generation: file?.generation ?? claimedGeneration(text),
        state: "failed",
        ...(served !== undefined ? { servingGeneration: served.generation, serialNumber: served.creds.serialNumber } : {}),
        error: { code, message: errorMessage(err) },
      }).catch((e: unknown) => log.error({ err: e }, "status-write-failed"));
      // A bad file or a namespace we must not listen in waits for the next write; anything else
      // (the namespace not there yet, the port taken, the helper failing) is retried.
      if (code !== "INVALID_ARGUMENT" && code !== "FORBIDDEN" && !this.stopped) {
        const delay = runner.retryMs;
        runner.retryMs = Math.min(delay * 2, this.opts.retry?.maxMs ?? 30_000);
        runner.timer = setTimeout(() => void this.sync(guid).catch((e: unknown) => log.error({ err: e }, "container-retry-failed")), delay);
        runner.timer.unref();
      }
    }
  }

  private async start(file: SidecarContainerFile, creds: ServingCredentials, log: Logger): Promise<void> {
    const upstream = { host: file.containerIp, port: file.appPort ?? DEFAULT_APP_PORT };
    const forward = file.options?.forward ?? "tcp";
    const base = { upstream, limits: this.opts.limits, metrics: this.opts.metrics, logger: log };
    const guid = file.instanceGuid;
    const ownIdentity = () => {
      const s = this.served.get(guid);
      return s === undefined ? undefined : uriOf(s.creds);
    };
    const requireClientCerts = file.options?.clientCertificates === "require";
    const alpn = file.options?.alpn ?? [];
    const target = await this.opts.listenerFor(file);
    const native = this.opts.native !== undefined && forward === "tcp" && !requireClientCerts && !("server" in target) ? this.opts.native : undefined;
    let front: Front;
    if (native !== undefined) {
      front = new NativeFront(native, creds, { upstream, alpn, metrics: this.opts.metrics });
    } else {
      const handler =
        forward === "http"
          ? createHttpForward({ ...base, ownIdentity })
          : createL4Forward({ ...base, proxyProtocol: forward === "proxy-v2" });
      front = new TlsFront(creds, handler, { limits: this.opts.limits, requireClientCerts, alpn, metrics: this.opts.metrics, logger: log });
    }
    let port: number;
    try {
      port = await front.listen(target);
    } catch (err) {
      await front.close().catch(() => undefined);
      throw err;
    }
    this.served.set(guid, { shape: shapeOf(file), front, generation: file.generation, creds, port });
    log.info({ generation: file.generation, port, upstream, forward, dataPath: native !== undefined ? "native" : "node", serial: creds.serialNumber }, "container-serving");
  }

  private async remove(guid: string, log: Logger): Promise<void> {
    const current = this.served.get(guid);
    this.served.delete(guid);
    this.failed.delete(guid);
    clearTimeout(this.runners.get(guid)?.timer);
    this.runners.delete(guid);
    this.opts.metrics.forgetContainer(guid);
    if (current !== undefined) {
      await current.front.close();
      log.info({ generation: current.generation }, "container-removed");
    }
    if (!this.stopped) await rm(this.paths.statusFile(guid), { force: true });
  }

  private async writeStatus(guid: string, s: Omit<SidecarContainerStatus, "schema" | "instanceGuid" | "updatedAt">): Promise<void> {
    if (this.stopped) return;
    const status: SidecarContainerStatus = { schema: 1, instanceGuid: guid, ...s, updatedAt: new Date().toISOString() };
    await writeFileReplacing(this.paths.statusFile(guid), JSON.stringify(status), 0o644);
  }

  /** The port a container's front listens on (tests use ephemeral ports). */
  portOf(guid: string): number | undefined {
    return this.served.get(guid)?.port;
  }

  /** Containers served now. */
  guids(): string[] {
    return [...this.served.keys()];
  }

  get size(): number {
    return this.served.size;
  }

  get activeConnections(): number {
    let n = 0;
    for (const s of this.served.values()) n += s.front.connections;
    return n;
  }

  /** Containers whose newest file could not be applied, with the reason. */
  failures(): ReadonlyMap<string, string> {
    return this.failed;
  }

  /** Closes every listener and connection; status files stay (the files describe the cell). */
  async close(): Promise<void> {
    this.stopped = true;
    for (const r of this.runners.values()) clearTimeout(r.timer);
    const all = [...this.served.values()];
    this.served.clear();
    await Promise.all(all.map((s) => s.front.close()));
  }
}
