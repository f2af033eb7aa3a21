// Decides the answer to one DNS message, the same way for UDP and TCP (ARCHITECTURE section 7):
//   - unreadable: dropped (no header, or a response) or FORMERR/NOTIMP with the header alone;
//   - EDNS version above 0: BADVERS;
//   - an internal name (at or below a configured domain): SERVFAIL before the first registry
//     snapshot; A/IN with addresses: all of them, shuffled, AA set, the registry's TTL; anything
//     else (unknown or stopped app, AAAA, SRV, other types and classes): NOERROR with no answers,
//     AA set. Never NXDOMAIN;
//   - any other name: forwarded, the upstream's answer passed through (SERVFAIL when none answers).
// Local answers are sent synchronously from pre-encoded records; handle() never throws.
import { WeftError, errorMessage } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import type { DnsStats } from "./dns-metrics.js";
import type { Forwarder } from "./forwarder.js";
import { DROPPED_RESPONSE, DROPPED_SHORT, PARSED, ParsedQuery, parseQueryInto, type Query } from "./query-parser.js";
import type { DnsRegistry } from "./registry.js";
import { buildAnswer, buildEmpty, buildHeaderOnly, buildTruncated, responseLimit } from "./response-builder.js";
import {
  CLASS_IN,
  EXTENDED_RCODE_BADVERS,
  FLAG_QR,
  FLAG_TC,
  HEADER_SIZE,
  RCODE_NOERROR,
  RCODE_SERVFAIL,
  TYPE_A,
  isWithinDomain,
  nameToWire,
  normalizeName,
} from "./wire.js";

/** Where responses go. `ctx` identifies the requestor (a UDP peer, or nothing on a TCP connection). */
export interface ReplyChannel<C> {
  readonly udp: boolean;
  /** `deferred` is true when the response completes an earlier "deferred" outcome. */
  send(ctx: C, response: Buffer, deferred: boolean): void;
  /**
   * For an answer that comes later (a forward): a message and context that outlive handle(). Absent
   * when both already do; the native UDP path reuses the message's memory and its batch index.
   */
  hold?(msg: Buffer, ctx: C): { msg: Buffer; ctx: C };
}

export type HandleOutcome = "sent" | "deferred" | "dropped";

export interface QueryHandlerOptions {
  readonly registry: DnsRegistry;
  readonly forwarder: Forwarder;
  /** Internal domains, e.g. ["apps.internal"]. */
  readonly domains: readonly string[];
  /** The UDP payload size we advertise and accept at most. */
  readonly serverUdpSize: number;
  readonly stats: DnsStats;
  readonly logger?: Logger;
}

export class QueryHandler {
  private readonly domainWires: readonly Buffer[];
  private readonly log: Logger;
  /** Parsed into by every answer(): handle() runs to completion, so one is enough. */
  private readonly scratch = new ParsedQuery();

  constructor(private readonly opts: QueryHandlerOptions) {
    this.domainWires = opts.domains.map((d) => {
      const n = normalizeName(d);
      if (n === undefined) throw new WeftError("INVALID_ARGUMENT", `invalid internal domain ${JSON.stringify(d)}`);
      return nameToWire(n);
    });
    this.log = opts.logger ?? silentLogger;
  }

  handle<C>(msg: Buffer, channel: ReplyChannel<C>, ctx: C): HandleOutcome {
    try {
      return this.answer(msg, channel, ctx);
    } catch (err) {
      this.opts.stats.internalErrors++;
      this.log.error({ err: errorMessage(err), size: msg.length }, "query-failed");
      if (msg.length < HEADER_SIZE || msg[2]! & FLAG_QR) return "dropped";
      return this.replySafely(channel, ctx, buildHeaderOnly(msg, RCODE_SERVFAIL), false) ? "sent" : "dropped";
    }
  }

  private isInternal(msg: Buffer, q: Query): boolean {
    for (const d of this.domainWires) if (isWithinDomain(msg, HEADER_SIZE, q.nameEnd, d)) return true;
    return false;
  }

  private reply<C>(channel: ReplyChannel<C>, ctx: C, response: Buffer, rcode: number, deferred: boolean): void {
    const stats = this.opts.stats;
    stats.countResponse(channel.udp, rcode);
    if (response[2]! & FLAG_TC) stats.truncated++;
    channel.send(ctx, response, deferred);
  }

  /** reply() for the error paths: a failure to send is counted and swallowed, never thrown. */
  private replySafely<C>(channel: ReplyChannel<C>, ctx: C, response: Buffer, deferred: boolean): boolean {
    try {
      this.reply(channel, ctx, response, response[3]! & 0x0f, deferred);
      return true;
    } catch (err) {
      this.opts.stats.internalErrors++;
      this.log.error({ err: errorMessage(err) }, "reply-failed");
      return false;
    }
  }

  private answer<C>(msg: Buffer, channel: ReplyChannel<C>, ctx: C): HandleOutcome {
    const q = this.scratch;
    const status = parseQueryInto(msg, q);
    const { serverUdpSize, registry } = this.opts;
    if (status !== PARSED) {
      if (status === DROPPED_SHORT || status === DROPPED_RESPONSE) {
        this.opts.stats.dropped++;
        return "dropped";
      }
      this.reply(channel, ctx, buildHeaderOnly(msg, status), status, false);
      return "sent";
    }
    if (q.ednsVersion > 0) {
      this.reply(channel, ctx, buildEmpty(msg, q, EXTENDED_RCODE_BADVERS << 4, false, serverUdpSize), 16, false);
      return "sent";
    }
    if (!this.isInternal(msg, q)) {
      // The scratch query is overwritten by the next message; the forward outlives this call.
      const held = channel.hold?.(msg, ctx);
      if (held) this.forward(held.msg, { ...q }, channel, held.ctx);
      else this.forward(msg, { ...q }, channel, ctx);
      return "deferred";
    }
    if (!registry.ready) {
      this.reply(channel, ctx, buildEmpty(msg, q, RCODE_SERVFAIL, false, serverUdpSize), RCODE_SERVFAIL, false);
      return "sent";
    }
    const at = q.qtype === TYPE_A && q.qclass === CLASS_IN ? registry.lookup(msg, HEADER_SIZE, q.nameEnd, q.nameHash) : -1;
    const response = at >= 0 ? buildAnswer(msg, q, registry.answerArena, at, responseLimit(q, channel.udp, serverUdpSize), serverUdpSize) : buildEmpty(msg, q, RCODE_NOERROR, true, serverUdpSize);
    this.reply(channel, ctx, response, RCODE_NOERROR, false);
    return "sent";
  }

  private forward<C>(msg: Buffer, q: Query, channel: ReplyChannel<C>, ctx: C): void {
    const { serverUdpSize } = this.opts;
    this.opts.forwarder.forward(msg, q.questionEnd, (upstream) => {
      let response: Buffer;
      try {
        if (upstream === undefined) {
          response = buildEmpty(msg, q, RCODE_SERVFAIL, false, serverUdpSize);
        } else {
          upstream[0] = msg[0]!;
          upstream[1] = msg[1]!;
          response = upstream.length > responseLimit(q, channel.udp, serverUdpSize) ? buildTruncated(msg, q, upstream, serverUdpSize) : upstream;
        }
      } catch (err) {
        this.opts.stats.internalErrors++;
        this.log.error({ err: errorMessage(err) }, "forwarded-answer-failed");
        response = buildHeaderOnly(msg, RCODE_SERVFAIL);
      }
      this.replySafely(channel, ctx, response, true);
    });
  }
}
