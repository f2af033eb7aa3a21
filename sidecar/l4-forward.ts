// The default handler: the client's decrypted bytes go to the app over a new TCP connection, and
// the app's bytes back, untouched, so any protocol works (HTTP/1.1, HTTP/2, gRPC, raw TCP).
//
// Client to app is a stream pipe. App to client skips the stream machinery: the app socket reads
// into one process-wide buffer (net's `onread`), and each chunk goes straight into the TLS socket,
// whose write encrypts it at once when nothing is queued (only a chunk that must wait is copied).
// That saves an allocation, a copy and the Readable bookkeeping per read, the sidecar's largest
// per-request cost after the crypto itself. Both directions pause the reader while the writer is
// full, so a client that never reads stops the app's side instead of filling memory. Half-close: a FIN from one side
// becomes end() on the other (pipe's default), both sockets allow half-open, and a connection ends
// when both directions have. An abort on either side (error, RST, the app refusing or not answering
// within connectTimeoutMs) destroys both at once, so the client learns quickly that the app is down.
// One timer per connection (the client socket's idle timeout, refreshed by reads and writes) closes
// connections where nothing moves.
import { connect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../common/logger.js";
import type { ClientIdentity } from "./client-identity.js";
import { clientIdentity } from "./client-identity.js";
import type { ProxyLimits } from "./config.js";
import type { SidecarMetrics } from "./metrics.js";
import { encodeProxyV2 } from "./proxy-protocol.js";
import type { ConnectionHandler } from "./tls-front.js";

export interface L4ForwardOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly limits: ProxyLimits;
  /** Send a PROXY v2 header with the caller's address and identity first. */
  readonly proxyProtocol: boolean;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
}

export function proxyHeaderFor(client: TLSSocket, id: ClientIdentity | undefined): Buffer {
  const cipher = client.getCipher();
  return encodeProxyV2({
    sourceAddress: client.remoteAddress ?? "",
    sourcePort: client.remotePort ?? 0,
    destinationAddress: client.localAddress ?? "",
    destinationPort: client.localPort ?? 0,
    ...(typeof client.alpnProtocol === "string" ? { alpn: client.alpnProtocol } : {}),
    ...(typeof client.servername === "string" ? { serverName: client.servername } : {}),
    tls: {
      version: client.getProtocol() ?? "",
      cipher: cipher.standardName,
      ...(id?.commonName !== undefined ? { clientCommonName: id.commonName } : {}),
      ...(id?.uri !== undefined ? { clientIdentity: id.uri } : {}),
    },
  });
}

/**
 * Reads from app sockets land here; a chunk is used before its callback returns (written into the
 * TLS socket, which encrypts it synchronously, or copied when the socket has writes queued), so
 * one buffer serves every connection of the process.
 */
const APP_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Hands one chunk from the app to the client; false when the client is full (pause the app). */
function toClient(client: TLSSocket, chunk: Buffer): boolean {
  if (client.destroyed) return true;
  // Nothing queued: write() reaches the TLS handle now, and SSL_write consumes the bytes before it
  // returns. Otherwise the chunk waits in the stream's queue and must outlive the shared buffer.
  const direct = client.writableLength === 0 && client.writableCorked === 0;
  return client.write(direct ? chunk : Buffer.from(chunk));
}

export function createL4Forward(opts: L4ForwardOptions): ConnectionHandler {
  const { limits, metrics } = opts;
  const debug = opts.logger.isLevelEnabled("debug");
  return {
    handle(client: TLSSocket): void {
      const upstream = connect({
        host: opts.upstream.host,
        port: opts.upstream.port,
        allowHalfOpen: true,
        noDelay: true,
        onread: {
          buffer: APP_READ_BUFFER,
          callback: (n: number, buf: Uint8Array) => {
            if (toClient(client, (buf as Buffer).subarray(0, n))) return true;
            client.once("drain", () => upstream.resume());
            return false; // pauses the app socket until the client has taken what is queued
          },
        },
      });
      if (opts.proxyProtocol) upstream.write(proxyHeaderFor(client, clientIdentity(client)));
      client.setNoDelay(true);
      splice(client, upstream, limits, metrics, debug ? opts.logger : undefined);
    },
    close: () => undefined,
  };
}

function splice(client: TLSSocket, upstream: Socket, limits: ProxyLimits, metrics: SidecarMetrics, log: Logger | undefined): void {
  let connected = false;
  upstream.setTimeout(limits.connectTimeoutMs);
  upstream.once("connect", () => {
    connected = true;
    upstream.setTimeout(0);
    metrics.connections.proxied.inc();
  });
  upstream.once("timeout", () => upstream.destroy(new Error("connect timeout")));
  client.setTimeout(limits.idleTimeoutMs);
  client.once("timeout", () => {
    metrics.connections.idle_timeout.inc();
    client.destroy();
  });

  client.pipe(upstream);
  upstream.once("end", () => client.end()); // the app's FIN, after its last byte was handed over
  client.on("error", (err: NodeJS.ErrnoException) => {
    log?.debug({ code: err.code, err: err.message }, "client-aborted");
    upstream.destroy();
  });
  upstream.on("error", (err: NodeJS.ErrnoException) => {
    if (!connected) metrics.connections.upstream_failed.inc();
    log?.debug({ code: err.code, err: err.message, connected }, "upstream-aborted");
    client.destroy();
  });
  // The client is gone in both directions: nothing the app sends can be delivered any more.
  client.once("close", () => upstream.destroy());
  upstream.once("close", () => {
    metrics.bytes.fromClients.inc(upstream.bytesWritten);
    metrics.bytes.toClients.inc(upstream.bytesRead);
    if (!upstream.readableEnded) {
      client.destroy(); // refused, reset or timed out: close the client now
      return;
    }
    // The app finished cleanly: the client was ended on its FIN; close once the data is flushed.
    client.unpipe(upstream);
    if (client.writableFinished) client.destroy();
    else client.once("finish", () => client.destroy());
  });
}
