// Builds responses by hand from the query's own bytes: the header is rewritten in place of the
// query's, the question is copied as sent (case preserved), answers come pre-encoded from the
// registry's packed table (answer-set.ts, name-table.ts), and an OPT record is appended when the query had one.
//
// This is what dns2's Packet.createResponseFromRequest + toBuffer do, but those build objects and
// write bit by bit per query; copying bytes keeps answering near the cost of the socket calls.
//
// Size rules: over UDP a response may be 512 bytes without EDNS0, or the requestor's advertised
// size (raised to 512, capped by ours) with it. An A answer that does not fit is cut to the whole
// records that fit, chosen at random, with TC set (the client retries over TCP; a stub that cannot
// still gets usable addresses). A forwarded answer that does not fit is cut to header and question.
import { RECORD_ADDRESS_OFFSET, RECORD_SIZE } from "./answer-set.js";
import type { Query } from "./query-parser.js";
import {
  CLASSIC_UDP_LIMIT,
  EDNS_FLAG_DO,
  FLAG_AA,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  FLAG_CD,
  HEADER_SIZE,
  MAX_MESSAGE_SIZE,
  TYPE_OPT,
} from "./wire.js";

export const OPT_RECORD_SIZE = 11;

/** The largest response the requestor accepts on this transport. */
export function responseLimit(q: Query, udp: boolean, serverUdpSize: number): number {
  if (!udp) return MAX_MESSAGE_SIZE;
  if (q.ednsUdpSize === 0) return CLASSIC_UDP_LIMIT;
  return Math.min(Math.max(q.ednsUdpSize, CLASSIC_UDP_LIMIT), serverUdpSize);
}

/**
 * Copies the question as sent. A byte loop: Buffer#copy of a sub-range allocates a view per call,
 * which costs more than copying the 20-40 bytes of a typical question.
 */
function copyQuestion(msg: Buffer, out: Buffer, questionEnd: number): void {
  for (let i = HEADER_SIZE; i < questionEnd; i++) out[i] = msg[i]!;
}

function writeHeader(out: Buffer, msg: Buffer, flags: number, rcode: number, an: number, ar: number, qd = 1): void {
  out[0] = msg[0]!;
  out[1] = msg[1]!;
  out[2] = FLAG_QR | flags | (msg[2]! & FLAG_RD);
  out[3] = FLAG_RA | (msg[3]! & FLAG_CD) | (rcode & 0x0f);
  out[4] = 0;
  out[5] = qd;
  out[6] = an >> 8;
  out[7] = an & 0xff;
  out[8] = 0;
  out[9] = 0;
  out[10] = 0;
  out[11] = ar;
}

/** Writes our OPT record at `o`: our UDP size, the upper rcode bits, and the DO bit echoed. */
function writeOpt(out: Buffer, o: number, q: Query, serverUdpSize: number, extendedRcode = 0): void {
  out[o] = 0;
  out[o + 1] = 0;
  out[o + 2] = TYPE_OPT;
  out[o + 3] = serverUdpSize >> 8;
  out[o + 4] = serverUdpSize & 0xff;
  out[o + 5] = extendedRcode;
  out[o + 6] = 0;
  out[o + 7] = q.ednsDo ? EDNS_FLAG_DO >> 8 : 0;
  out[o + 8] = 0;
  out[o + 9] = 0;
  out[o + 10] = 0;
}

function swapAddresses(out: Buffer, base: number, i: number, j: number): void {
  const a = base + i * RECORD_SIZE + RECORD_ADDRESS_OFFSET;
  const b = base + j * RECORD_SIZE + RECORD_ADDRESS_OFFSET;
  const t = out.readUInt32BE(a);
  out.writeUInt32BE(out.readUInt32BE(b), a);
  out.writeUInt32BE(t, b);
}

/**
 * NOERROR with A records, shuffled (Fisher-Yates on the addresses), AA set. The records come from
 * the registry's packed table: arena[at, at + 2) is their count, the records follow.
 */
export function buildAnswer(msg: Buffer, q: Query, arena: Buffer, at: number, limit: number, serverUdpSize: number): Buffer {
  const optSize = q.ednsUdpSize ? OPT_RECORD_SIZE : 0;
  const room = Math.floor((limit - q.questionEnd - optSize) / RECORD_SIZE);
  const n = (arena[at]! << 8) | arena[at + 1]!;
  const first = at + 2;
  const fits = room >= n;
  const count = fits ? n : Math.max(room, 0);
  const out = Buffer.allocUnsafe(q.questionEnd + count * RECORD_SIZE + optSize);
  copyQuestion(msg, out, q.questionEnd);
  writeHeader(out, msg, fits ? FLAG_AA : FLAG_AA | FLAG_TC, 0, count, optSize ? 1 : 0);
  const base = q.questionEnd;
  if (fits) {
    for (let i = 0, end = n * RECORD_SIZE; i < end; i++) out[base + i] = arena[first + i]!;
    for (let i = n - 1; i > 0; i--) swapAddresses(out, base, i, Math.floor(Math.random() * (i + 1)));
  } else {
    // Rare: choose `count` of the n records at random (a partial Fisher-Yates on a copy).
    const all = Buffer.from(arena.subarray(first, first + n * RECORD_SIZE));
    for (let i = 0; i < count; i++) swapAddresses(all, 0, i, i + Math.floor(Math.random() * (n - i)));
    all.copy(out, base, 0, count * RECORD_SIZE);
  }
  if (optSize) writeOpt(out, base + count * RECORD_SIZE, q, serverUdpSize);
  return out;
}

/**
 * A response with the question and no records: NOERROR/NODATA (aa=true for internal names),
 * SERVFAIL, or BADVERS (rcode 16, whose upper bits travel in the OPT record).
 */
export function buildEmpty(msg: Buffer, q: Query, rcode: number, aa: boolean, serverUdpSize: number): Buffer {
  const optSize = q.ednsUdpSize ? OPT_RECORD_SIZE : 0;
  const out = Buffer.allocUnsafe(q.questionEnd + optSize);
  copyQuestion(msg, out, q.questionEnd);
  writeHeader(out, msg, aa ? FLAG_AA : 0, rcode, 0, optSize ? 1 : 0);
  if (optSize) writeOpt(out, q.questionEnd, q, serverUdpSize, rcode >> 4);
  return out;
}

/** FORMERR or NOTIMP for a query we could not read: the header alone, echoing ID, opcode and RD. */
export function buildHeaderOnly(msg: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_SIZE);
  writeHeader(out, msg, 0, rcode, 0, 0, 0);
  out[2] = out[2]! | (msg[2]! & 0x78);
  return out;
}

/** A forwarded answer too large for the requestor's UDP limit: its header with TC, and the question. */
export function buildTruncated(msg: Buffer, q: Query, upstream: Buffer, serverUdpSize: number): Buffer {
  const optSize = q.ednsUdpSize ? OPT_RECORD_SIZE : 0;
  const out = Buffer.allocUnsafe(q.questionEnd + optSize);
  upstream.copy(out, 0, 0, 4);
  msg.copy(out, 0, 0, 2);
  copyQuestion(msg, out, q.questionEnd);
  out[2] = out[2]! | FLAG_TC;
  out.fill(0, 4, HEADER_SIZE);
  out[5] = 1;
  out[11] = optSize ? 1 : 0;
  if (optSize) writeOpt(out, q.questionEnd, q, serverUdpSize);
  return out;
}
