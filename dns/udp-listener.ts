// The UDP side of the DNS server: one socket, each datagram handed to the QueryHandler with the
// sender as reply context. Socket errors (a send to a vanished peer, say) are logged, never fatal.
//
// Two ways to do the I/O, with the same answers: "native", the addon of native-udp.ts (a batch of
// datagrams per wakeup with recvmmsg/sendmmsg), and "dgram", node:dgram (one "message" event and
// one send per datagram). When the addon was not built or does not load, "native" logs that once
// and serves with dgram.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { errorMessage } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import { loadNativeUdp, startNativeUdp } from "./native-udp.js";
import type { QueryHandler, ReplyChannel } from "./query-handler.js";

const EMPTY = Buffer.alloc(0);

export type UdpIo = "native" | "dgram";

export interface UdpListener {
  readonly port: number;
  /** The I/O in use: "dgram" when "native" was asked for but the addon is not usable. */
  readonly io: UdpIo;
  close(): Promise<void>;
}

export interface UdpListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: QueryHandler;
  readonly io?: UdpIo;
  /** Where the native addon is (default dist/native/weft-dns-udp.node); for tests. */
  readonly addonPath?: string;
  readonly logger?: Logger;
}

const warnedAddons = new Set<string>();

export async function startUdpListener(opts: UdpListenerOptions): Promise<UdpListener> {
  const log = opts.logger ?? silentLogger;
  if (opts.io === "native") {
    const addon = loadNativeUdp(opts.addonPath);
    if (!(addon instanceof Error)) {
      const native = startNativeUdp(addon, { host: opts.host, port: opts.port, handler: opts.handler, logger: log });
      log.info({ host: opts.host, port: native.port, io: "native" }, "udp-listener-started");
      return { port: native.port, io: "native", close: () => native.close() };
    }
    const key = opts.addonPath ?? "";
    if (!warnedAddons.has(key)) {
      warnedAddons.add(key);
      log.warn({ err: addon.message, fallback: "node:dgram", build: "npm run build:dns-udp" }, "udp-native-unavailable");
    }
  }
  return startDgramListener(opts, log);
}

async function startDgramListener(opts: UdpListenerOptions, log: Logger): Promise<UdpListener> {
  // Replies go to the sender's address as the kernel reported it, always an IP literal. dgram's
  // default lookup (dns.lookup) defers every send by a tick to "resolve" it; answering at once
  // saves that per-reply cost.
  const family = isIPv6(opts.host) ? 6 : 4;
  const lookup = (address: string, _options: unknown, callback: (err: null, address: string, family: number) => void) => callback(null, address, family);
  const socket: Socket = createSocket({ type: family === 6 ? "udp6" : "udp4", lookup });
  let closed = false;
  let sendErrors = 0;
  const sendFailed = (err: unknown) => {
    // Log the first and then every 1000th, so a flood cannot flood the log too.
    if (sendErrors++ % 1000 === 0) log.warn({ err: errorMessage(err), count: sendErrors }, "udp-socket-failed");
  };
  // Replies wait until the datagrams of this poll phase are read (setImmediate runs right after
  // it), then go out back to back: a client that sleeps between replies is woken once per burst
  // rather than once per reply, and that wakeup is paid inside our sendmsg.
  const replies: Buffer[] = [];
  const ports: number[] = [];
  const addresses: string[] = [];
  let queued = 0;
  const flush = () => {
    const n = queued;
    queued = 0;
    for (let i = 0; i < n; i++) {
      try {
        if (!closed) socket.send(replies[i]!, ports[i], addresses[i]);
      } catch (err) {
        // A peer Node will not send to (source port 0, say): this reply is lost, never the process.
        sendFailed(err);
      }
      replies[i] = EMPTY;
    }
  };
  const channel: ReplyChannel<RemoteInfo> = {
    udp: true,
    send(peer, response) {
      if (closed) return;
      if (queued === 0) setImmediate(flush);
      replies[queued] = response;
      ports[queued] = peer.port;
      addresses[queued] = peer.address;
      queued++;
    },
  };
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.on("error", sendFailed);
  socket.on("message", (msg, peer) => {
    opts.handler.handle(msg, channel, peer);
  });
  const port = socket.address().port;
  log.info({ host: opts.host, port, io: "dgram" }, "udp-listener-started");
  return {
    port,
    io: "dgram",
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        socket.close(() => resolve());
      }),
  };
}
