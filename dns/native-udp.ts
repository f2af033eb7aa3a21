// The native UDP path of `weft dns`: the addon dns/native/weft-dns-udp.c (built by `npm run
// build:dns-udp` to dist/native/weft-dns-udp.node) owns the socket, takes up to 64 datagrams per
// wakeup with recvmmsg into one shared buffer, calls onBatch once, and sends the replies written
// into a second shared buffer with one sendmmsg. Parsing and answering are the QueryHandler's, the
// same as on the dgram path; only the I/O differs.
//
// Per datagram, the JavaScript side makes one Buffer view of its slot (the parser reads a Buffer)
// and copies the reply into the output buffer; the reply's peer never becomes a JavaScript object.
// A query that is answered later (a forwarded name) holds a copy of its message and of its peer's
// address, and its reply goes out alone through sendTo().
import { createRequire } from "node:module";
import { join } from "node:path";
import { errorMessage } from "../common/errors.js";
import { packageRoot } from "../common/package-root.js";
import type { Logger } from "../common/logger.js";
import type { QueryHandler, ReplyChannel } from "./query-handler.js";

interface NativeSocket {
  readonly handle: object;
  readonly input: ArrayBuffer;
  readonly output: ArrayBuffer;
  readonly table: ArrayBuffer;
  readonly slotSize: number;
  readonly batch: number;
  readonly port: number;
}

/** The addon's exports (dns/native/weft-dns-udp.c describes them). */
export interface NativeUdpAddon {
  open(host: string, port: number, onBatch: (n: number) => void): NativeSocket;
  peer(handle: object, index: number): Buffer;
  sendTo(handle: object, response: Buffer, peer: Buffer): number;
  stats(handle: object): [receiveErrors: number, sendErrors: number, dropped: number, queuedBytes: number];
  close(handle: object): void;
}

export function defaultAddonPath(): string {
  return join(packageRoot(), "dist", "native", "weft-dns-udp.node");
}

const loaded = new Map<string, NativeUdpAddon | Error>();

/** Loads the addon once per path; an Error says why it cannot be used. */
export function loadNativeUdp(path = defaultAddonPath()): NativeUdpAddon | Error {
  let addon = loaded.get(path);
  if (addon === undefined) {
    try {
      const mod = createRequire(import.meta.url)(path) as Partial<NativeUdpAddon>;
      addon = typeof mod.open === "function" && typeof mod.sendTo === "function" ? (mod as NativeUdpAddon) : new Error(`${path} is not weft-dns-udp`);
    } catch (err) {
      addon = new Error(errorMessage(err));
    }
    loaded.set(path, addon);
  }
  return addon;
}

export interface NativeUdpListener {
  readonly port: number;
  close(): Promise<void>;
}

/** Context of a reply: the datagram's index in the current batch, or a held peer address. */
type NativeCtx = number | Buffer;

/** Opens the socket and serves it; throws (with the errno's code) when it cannot bind. */
export function startNativeUdp(addon: NativeUdpAddon, opts: { host: string; port: number; handler: QueryHandler; logger: Logger }): NativeUdpListener {
  const { handler, logger: log } = opts;
  // The closures below run only once open() has returned (from the event loop): the views they use
  // are set up right after it.
  let cursor = 0;
  let closed = false;
  let batches = 0;
  let reportedSendErrors = 0;

  const sendLater = (response: Buffer, peer: Buffer) => {
    if (closed) return;
    addon.sendTo(sock.handle, response, peer);
  };
  const channel: ReplyChannel<NativeCtx> = {
    udp: true,
    send(ctx, response) {
      if (typeof ctx !== "number") return sendLater(response, ctx);
      const len = response.length;
      if (cursor + len <= output.length) {
        output.set(response, cursor);
        offsets[ctx] = cursor;
        outLengths[ctx] = len;
        cursor += len;
      } else {
        // Larger than what is left of the output buffer (only a very large answer can be): alone.
        sendLater(response, addon.peer(sock.handle, ctx));
      }
    },
    hold(msg, ctx) {
      return { msg: Buffer.from(msg), ctx: typeof ctx === "number" ? addon.peer(sock.handle, ctx) : ctx };
    },
  };
  const reportErrors = () => {
    const [receiveErrors, sendErrors, dropped] = addon.stats(sock.handle);
    if (sendErrors + dropped > reportedSendErrors) {
      reportedSendErrors = sendErrors + dropped;
      log.warn({ receiveErrors, sendErrors, dropped }, "udp-socket-failed");
    }
  };
  const onBatch = (n: number) => {
    cursor = 0;
    for (let i = 0; i < n; i++) {
      const start = i * slot;
      // handle() never throws; a throwing channel is caught there too.
      handler.handle(input.subarray(start, start + lengths[i]!), channel, i);
    }
    // Kernel errors (counted by the addon) are looked at every 1024 batches: one log line at most.
    if ((++batches & 1023) === 0) {
      try {
        if (!closed) reportErrors();
      } catch (err) {
        log.warn({ err: errorMessage(err) }, "udp-stats-failed");
      }
    }
  };
  const sock = addon.open(opts.host, opts.port, onBatch);
  const input = Buffer.from(sock.input);
  const output = new Uint8Array(sock.output);
  const lengths = new Int32Array(sock.table, 0, sock.batch);
  const offsets = new Int32Array(sock.table, sock.batch * 4, sock.batch);
  const outLengths = new Int32Array(sock.table, sock.batch * 8, sock.batch);
  const slot = sock.slotSize;
  const handle = sock.handle;
  return {
    port: sock.port,
    close: () => {
      if (!closed) {
        try {
          reportErrors();
        } catch (err) {
          log.warn({ err: errorMessage(err) }, "udp-stats-failed");
        }
        closed = true;
        addon.close(handle);
      }
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}
