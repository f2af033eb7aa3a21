// Builds query packets by hand and sends them over UDP or TCP to a test server, for the cases dig
// and Node's resolver cannot produce (malformed packets, pipelined TCP, exact byte checks).
import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { nameToWire } from "../wire.js";

export interface QueryOptions {
  readonly id?: number;
  readonly type?: number;
  readonly cls?: number;
  readonly rd?: boolean;
  /** Adds an OPT record advertising this UDP size. */
  readonly ednsUdpSize?: number;
  readonly ednsVersion?: number;
  readonly dnssecOk?: boolean;
}

/** A standard query for `name` (spelled as given: case is kept). */
export function buildQuery(name: string, opts: QueryOptions = {}): Buffer {
  const qname = Buffer.concat([nameToWire(name.replace(/\.$/, "")), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0x1234, 0);
  header[2] = opts.rd === false ? 0 : 1;
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(opts.type ?? 1, 0);
  tail.writeUInt16BE(opts.cls ?? 1, 2);
  const parts = [header, qname, tail];
  if (opts.ednsUdpSize !== undefined) {
    header.writeUInt16BE(1, 10);
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.ednsUdpSize, 3);
    opt[6] = opts.ednsVersion ?? 0;
    opt[7] = opts.dnssecOk ? 0x80 : 0;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

/** Sends one datagram and waits for one reply, or resolves undefined after timeoutMs. */
export function udpExchange(port: number, packet: Buffer, timeoutMs = 1000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => {
      sock.close();
      resolve(undefined);
    }, timeoutMs);
    sock.on("message", (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(msg);
    });
    sock.send(packet, port, "127.0.0.1");
  });
}

/** Writes `bytes` on one TCP connection and collects the length-framed replies until `expect` arrive. */
export function tcpExchange(port: number, bytes: Buffer, expect: number, timeoutMs = 3000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: "127.0.0.1", port });
    const replies: Buffer[] = [];
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`got ${replies.length} of ${expect} TCP replies in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const len = buffered.readUInt16BE(0);
        replies.push(buffered.subarray(2, 2 + len));
        buffered = buffered.subarray(2 + len);
      }
      if (replies.length >= expect) {
        clearTimeout(timer);
        sock.destroy();
        resolve(replies);
      }
    });
    sock.write(bytes);
  });
}

export function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length, 0);
  return Buffer.concat([len, msg]);
}

export function rcodeOf(msg: Buffer): number {
  return msg[3]! & 0x0f;
}

export function ancountOf(msg: Buffer): number {
  return msg.readUInt16BE(6);
}
