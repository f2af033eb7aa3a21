// One container's TLS listener: a node:tls server on a listening socket that was created inside
// the container's network namespace (or on a plain host:port), with the container's certificate.
//
// - Rotation swaps the secure context (server.setSecureContext): handshakes that start afterwards
//   get the new certificate, connections already open keep theirs and are never touched.
// - Handshake timeout and a cap on open connections come from node:tls and net.Server
//   (handshakeTimeout, maxConnections); node:tls only reports the timeout (tlsClientError), so
//   the socket is destroyed there. On top of that, connections still in their handshake are
//   kept in arrival order, and past maxPendingHandshakes the oldest is closed: idle or slowloris
//   clients cannot fill the slots real clients need, and memory stays bounded.
// - Half-close is turned on only after the handshake (socket.allowHalfOpen = true), so a client that
//   sends FIN before finishing its handshake is closed at once instead of lingering.
// What happens to a secure connection is the ConnectionHandler's business (l4-forward.ts, http-forward.ts).
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createServer, type TLSSocket, type Server as TlsServer } from "node:tls";
import { WeftError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import type { ProxyLimits } from "./config.js";
import type { ServingCredentials } from "./credentials.js";
import type { SidecarMetrics } from "./metrics.js";

/** Where a front listens: a listening socket made elsewhere, host:port in our namespace, or
 * host:port inside another network namespace (shared mode). For the last, the native data path
 * binds the socket itself (setns); this front asks `open()` for one (netns-listener.ts). */
export type ListenTarget =
  | { readonly server: NetServer }
  | { readonly host: string; readonly port: number }
  | { readonly netnsPath: string; readonly host: string; readonly port: number; open(): Promise<NetServer> };

/** One container's TLS listener, served by node:tls (TlsFront) or by weft-tlsd (NativeFront). */
export interface Front {
  /** Starts accepting; resolves with the port. */
  listen(target: ListenTarget): Promise<number>;
  /** New handshakes use these credentials; open connections keep theirs. */
  rotate(creds: ServingCredentials): void | Promise<void>;
  /** Open connections, handshakes included. */
  readonly connections: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

export interface ConnectionHandler {
  /** Takes over a socket whose handshake finished. */
  handle(socket: TLSSocket): void;
  close(): void;
}

export interface TlsFrontOptions {
  readonly limits: ProxyLimits;
  readonly requireClientCerts: boolean;
  readonly alpn: readonly string[];
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
}

const peerKey = (s: Socket): string => `${s.remoteAddress ?? ""}:${s.remotePort ?? 0}`;

export class TlsFront implements Front {
  private readonly server: TlsServer;
  private readonly pending = new Map<string, Socket>();
  private readonly open = new Set<TLSSocket>();
  private closing = false;

  constructor(
    creds: ServingCredentials,
    private readonly handler: ConnectionHandler,
    private readonly opts: TlsFrontOptions,
  ) {
    const { limits, metrics } = opts;
    this.server = createServer({
      ...creds.context,
      handshakeTimeout: limits.handshakeTimeoutMs,
      requestCert: opts.requireClientCerts,
      rejectUnauthorized: opts.requireClientCerts,
      ...(opts.alpn.length > 0 ? { ALPNProtocols: [...opts.alpn] } : {}),
    });
    this.server.maxConnections = limits.maxConnections;
    this.server.on("drop", () => metrics.connections.refused.inc());
    this.server.on("connection", (raw: Socket) => this.onConnection(raw));
    this.server.on("secureConnection", (socket: TLSSocket) => this.onSecure(socket));
    this.server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => {
      metrics.connections.handshake_failed.inc();
      // node:tls reports a handshake timeout here but leaves the socket open: close it.
      socket.destroy();
      if (opts.logger.isLevelEnabled("debug")) opts.logger.debug({ code: err.code, err: err.message }, "handshake-failed");
    });
    this.server.on("error", (err) => opts.logger.error({ err }, "listener-failed"));
  }

  private onConnection(raw: Socket): void {
    const key = peerKey(raw);
    this.pending.set(key, raw);
    raw.once("close", () => {
      if (this.pending.get(key) === raw) this.pending.delete(key);
    });
    if (this.pending.size > this.opts.limits.maxPendingHandshakes) {
      const [oldestKey, oldest] = this.pending.entries().next().value as [string, Socket];
      this.pending.delete(oldestKey);
      this.opts.metrics.connections.evicted.inc();
      oldest.destroy();
    }
  }

  private onSecure(socket: TLSSocket): void {
    this.pending.delete(peerKey(socket));
    if (this.closing) {
      socket.destroy();
      return;
    }
    socket.allowHalfOpen = true;
    this.open.add(socket);
    socket.once("close", () => this.open.delete(socket));
    this.handler.handle(socket);
  }

  /** Starts accepting; resolves with the port. */
  async listen(where: ListenTarget): Promise<number> {
    const target = "netnsPath" in where ? { server: await where.open() } : where;
    // net.Server.listen(x) falls back to a random port in our own namespace when x has no live
    // handle: refuse a closed socket rather than open a port on the cell host.
    if ("server" in target && !target.server.listening) throw new WeftError("INTERNAL", "the listening socket made in the namespace is already closed");
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      const done = () => {
        this.server.off("error", reject);
        resolve();
      };
      if ("server" in target) this.server.listen(target.server, done);
      else this.server.listen({ host: target.host, port: target.port, backlog: 4096 }, done);
    });
    return (this.server.address() as AddressInfo).port;
  }

  /** New handshakes use these credentials; open connections keep theirs. */
  rotate(creds: ServingCredentials): void {
    this.server.setSecureContext(creds.context);
    this.opts.metrics.rotations.inc();
  }

  get connections(): number {
    return this.pending.size + this.open.size;
  }

  get pendingHandshakes(): number {
    return this.pending.size;
  }

  /** Stops listening and closes every connection (the container is gone). */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.pending.values()) s.destroy();
    for (const s of this.open) s.destroy();
    this.handler.close();
    await closed;
  }
}
