// Forwards queries for names outside the internal domains to the upstream resolvers, as a byte
// relay: the client's message goes out unchanged but for a fresh random ID (so EDNS options, the
// DO and CD bits and the name's case all reach the upstream), and the upstream's answer comes back
// unchanged but for the ID restored by the caller. Its rcode is never rewritten: SERVFAIL stays
// SERVFAIL, NXDOMAIN stays NXDOMAIN.
//
// Why not dns2's client: it builds a new query from (name, type) and parses and re-encodes the
// answer, which drops the client's EDNS options and flags and re-writes records it does not know.
//
// Each attempt uses its own connected UDP socket: the kernel picks a random source port and drops
// datagrams from anyone but the upstream, and a response must also carry our ID and echo our
// question (or be a header-only error) before it is accepted; anything else is ignored until the
// attempt times out. A truncated answer (TC) is fetched again over TCP from the same upstream.
// Upstreams are tried in order, each for attemptTimeoutMs; when none answers, the caller gets
// undefined and replies SERVFAIL. `done` is always called asynchronously, and at most once.
import { randomInt } from "node:crypto";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect, isIPv6, type Socket as TcpSocket } from "node:net";
import { errorMessage } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import type { DnsStats } from "./dns-metrics.js";
import { FLAG_QR, FLAG_TC, HEADER_SIZE } from "./wire.js";

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export interface ForwarderOptions {
  readonly upstreams: readonly Upstream[];
  readonly attemptTimeoutMs: number;
  readonly maxPending: number;
  readonly stats: DnsStats;
  readonly logger?: Logger;
}

export type ForwardDone = (response: Buffer | undefined) => void;

type AttemptResult = { kind: "answer"; response: Buffer } | { kind: "truncated" } | { kind: "failed"; reason: "timeout" | "error"; detail: string };

/** True when `resp` answers the query with this ID and question. */
function isAnswerTo(resp: Buffer, id: number, question: Buffer): boolean {
  if (resp.length < HEADER_SIZE || resp.readUInt16BE(0) !== id || !(resp[2]! & FLAG_QR)) return false;
  const qdcount = resp.readUInt16BE(4);
  // A header-only error (FORMERR, NOTIMP, REFUSED...) is passed through as well.
  if (qdcount === 0) return (resp[3]! & 0x0f) !== 0;
  return qdcount === 1 && resp.length >= HEADER_SIZE + question.length && resp.subarray(HEADER_SIZE, HEADER_SIZE + question.length).equals(question);
}

export class Forwarder {
  private pending = 0;
  private closed = false;
  private readonly live = new Set<UdpSocket | TcpSocket>();
  private readonly log: Logger;

  constructor(private readonly opts: ForwarderOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  get pendingCount(): number {
    return this.pending;
  }

  /** Forwards `msg` (a parsed query whose question ends at `questionEnd`). */
  forward(msg: Buffer, questionEnd: number, done: ForwardDone): void {
    const stats = this.opts.stats;
    if (this.closed) return;
    if (this.opts.upstreams.length === 0 || this.pending >= this.opts.maxPending) {
      if (this.opts.upstreams.length > 0) stats.upstreamOverloaded++;
      setImmediate(done, undefined);
      return;
    }
    this.pending++;
    stats.forwarded++;
    const id = randomInt(0x10000);
    const query = Buffer.from(msg);
    query.writeUInt16BE(id, 0);
    const question = msg.subarray(HEADER_SIZE, questionEnd);
    let settled = false;
    const finish = (response: Buffer | undefined) => {
      if (settled) return;
      settled = true;
      this.pending--;
      if (!this.closed) done(response);
    };
    const tryUpstream = (i: number) => {
      const upstream = this.opts.upstreams[i];
      if (upstream === undefined || this.closed) return finish(undefined);
      this.viaUdp(upstream, query, id, question, (result) => {
        if (result.kind === "answer") return finish(result.response);
        if (result.kind === "failed") return this.failed(upstream, result, () => tryUpstream(i + 1));
        stats.upstreamTcpRetries++;
        this.viaTcp(upstream, query, id, question, (tcpResult) => {
          if (tcpResult.kind === "answer") return finish(tcpResult.response);
          this.failed(upstream, tcpResult.kind === "failed" ? tcpResult : { reason: "error", detail: "truncated over TCP" }, () => tryUpstream(i + 1));
        });
      });
    };
    tryUpstream(0);
  }

  /** Stops all attempts; their callers are not called back. */
  close(): void {
    this.closed = true;
    for (const s of this.live) {
      if ("destroy" in s) s.destroy();
      else s.close();
    }
    this.live.clear();
  }

  private failed(upstream: Upstream, result: { reason: "timeout" | "error"; detail: string }, next: () => void): void {
    if (result.reason === "timeout") this.opts.stats.upstreamTimeouts++;
    else this.opts.stats.upstreamErrors++;
    this.log.debug({ upstream: `${upstream.host}:${upstream.port}`, reason: result.reason, detail: result.detail }, "upstream-attempt-failed");
    next();
  }

  private viaUdp(upstream: Upstream, query: Buffer, id: number, question: Buffer, cb: (r: AttemptResult) => void): void {
    const sock = createSocket(isIPv6(upstream.host) ? "udp6" : "udp4");
    this.live.add(sock);
    let over = false;
    const end = (r: AttemptResult) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      this.live.delete(sock);
      try {
        sock.close();
      } catch {
        // already closed
      }
      if (!this.closed) cb(r);
    };
    const timer = setTimeout(() => end({ kind: "failed", reason: "timeout", detail: `no answer in ${this.opts.attemptTimeoutMs} ms` }), this.opts.attemptTimeoutMs);
    sock.on("error", (err) => end({ kind: "failed", reason: "error", detail: errorMessage(err) }));
    sock.on("message", (resp) => {
      if (!isAnswerTo(resp, id, question)) return;
      end(resp[2]! & FLAG_TC ? { kind: "truncated" } : { kind: "answer", response: resp });
    });
    sock.connect(upstream.port, upstream.host, () => {
      if (!over) sock.send(query);
    });
  }

  private viaTcp(upstream: Upstream, query: Buffer, id: number, question: Buffer, cb: (r: AttemptResult) => void): void {
    const sock = connect({ host: upstream.host, port: upstream.port });
    this.live.add(sock);
    let over = false;
    let buffered: Buffer = Buffer.alloc(0);
    const end = (r: AttemptResult) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      this.live.delete(sock);
      sock.destroy();
      if (!this.closed) cb(r);
    };
    const timer = setTimeout(() => end({ kind: "failed", reason: "timeout", detail: `no TCP answer in ${this.opts.attemptTimeoutMs} ms` }), this.opts.attemptTimeoutMs);
    sock.setNoDelay(true);
    sock.on("error", (err) => end({ kind: "failed", reason: "error", detail: errorMessage(err) }));
    sock.on("close", () => end({ kind: "failed", reason: "error", detail: "connection closed before an answer" }));
    sock.on("data", (chunk: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) return;
        const resp = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        if (isAnswerTo(resp, id, question)) return end(resp[2]! & FLAG_TC ? { kind: "truncated" } : { kind: "answer", response: Buffer.from(resp) });
      }
    });
    const frame = Buffer.allocUnsafe(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    sock.write(frame);
  }
}
