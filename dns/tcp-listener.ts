// The TCP side of the DNS server (RFC 7766): messages framed by a 2-byte length, several queries per
// connection, answered as they complete (forwarded ones may overtake nothing but may be overtaken;
// the ID tells them apart).
//
// Limits: a frame can never exceed 65535 bytes, so at most one partial frame is buffered; a frame
// too short to hold a header is dropped and reading goes on with the next; a connection idle for
// idleTimeoutMs is closed (a length prefix promising more bytes than ever arrive ends there); when
// the peer stops reading and our unsent output passes 256 KiB we stop reading from it until it
// drains; beyond maxConnections new connections are refused. When the peer half-closes, we close
// after the last pending answer.
import { createServer, type Server, type Socket } from "node:net";
import { errorMessage } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import type { QueryHandler, ReplyChannel } from "./query-handler.js";

const MAX_UNSENT_BYTES = 256 * 1024;

export interface TcpListener {
  readonly port: number;
  readonly connectionCount: number;
  close(): Promise<void>;
}

export interface TcpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: QueryHandler;
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly logger?: Logger;
}

function serveConnection(sock: Socket, handler: QueryHandler, idleTimeoutMs: number, log: Logger): void {
  let buffered: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let peerEnded = false;
  const write = (response: Buffer) => {
    if (sock.destroyed || !sock.writable) return;
    const frame = Buffer.allocUnsafe(2 + response.length);
    frame.writeUInt16BE(response.length, 0);
    response.copy(frame, 2);
    sock.write(frame);
    if (sock.writableLength > MAX_UNSENT_BYTES && !sock.isPaused()) {
      sock.pause();
      sock.once("drain", () => sock.resume());
    }
  };
  const channel: ReplyChannel<undefined> = {
    udp: false,
    send(_ctx, response, deferred) {
      if (deferred) inFlight--;
      write(response);
      if (peerEnded && inFlight === 0 && !sock.destroyed) sock.end();
    },
  };
  sock.setTimeout(idleTimeoutMs, () => sock.destroy());
  sock.on("error", (err) => log.debug({ err: errorMessage(err) }, "tcp-connection-failed"));
  sock.on("end", () => {
    peerEnded = true;
    if (inFlight === 0) sock.end();
  });
  sock.on("data", (chunk: Buffer) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    let o = 0;
    while (buffered.length - o >= 2 && !sock.destroyed) {
      const len = buffered.readUInt16BE(o);
      if (buffered.length - o - 2 < len) break;
      const msg = buffered.subarray(o + 2, o + 2 + len);
      o += 2 + len;
      if (handler.handle(msg, channel, undefined) === "deferred") inFlight++;
    }
    buffered = o === 0 ? buffered : buffered.subarray(o);
  });
}

export async function startTcpListener(opts: TcpListenerOptions): Promise<TcpListener> {
  const log = opts.logger ?? silentLogger;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
    serveConnection(sock, opts.handler, opts.idleTimeoutMs, log);
  });
  server.maxConnections = opts.maxConnections;
  server.on("drop", () => log.debug("tcp-connection-refused"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.warn({ err: errorMessage(err) }, "tcp-server-failed"));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  log.info({ host: opts.host, port }, "tcp-listener-started");
  return {
    port,
    get connectionCount() {
      return sockets.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
