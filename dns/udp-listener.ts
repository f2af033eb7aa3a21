// The UDP side of the DNS server: one socket, each datagram handed to the QueryHandler with the
// sender as reply context. Socket errors (a send to a vanished peer, say) are logged, never fatal.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { errorMessage } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import type { QueryHandler, ReplyChannel } from "./query-handler.js";

const EMPTY = Buffer.alloc(0);

export interface UdpListener {
  readonly port: number;
  close(): Promise<void>;
}

export async function startUdpListener(opts: { host: string; port: number; handler: QueryHandler; logger?: Logger }): Promise<UdpListener> {
  const log = opts.logger ?? silentLogger;
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
  log.info({ host: opts.host, port }, "udp-listener-started");
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        socket.close(() => resolve());
      }),
  };
}
