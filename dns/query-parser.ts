// Hand-written parser for incoming DNS queries: the hot path of the server.
//
// Why not dns2's Packet.parse: it reads the message bit by bit into objects (most of the ~180 us per
// query measured for a plain dns2 server) and it swallows per-record errors, so a message whose
// counts lie still "parses". This parser reads only what answering needs (header, the one question,
// the OPT record) with a bounds check before every read, and classifies everything else:
//   - shorter than a header, or a response (QR=1): dropped, never answered (no reflection loops);
//   - opcode other than QUERY: NOTIMP;
//   - anything malformed: FORMERR (qdcount != 1, a name running off the end, a label over 63
//     bytes, a name over 255 bytes, counts that do not match the bytes, trailing bytes, a second
//     OPT record or one not owned by the root name).
// It never follows compression pointers. In a query's question a pointer can only point into the
// header, so it is rejected; in later records a pointer ends the name and is skipped, so pointer
// loops cannot make it spin. Every loop advances through the message or returns, so the work per
// message is bounded by its length.
import {
  FLAG_CD,
  FLAG_QR,
  FLAG_RD,
  HEADER_SIZE,
  MAX_LABEL_LENGTH,
  MAX_NAME_WIRE_LENGTH,
  RCODE_FORMERR,
  RCODE_NOTIMP,
  TYPE_OPT,
  lowerByte,
} from "./wire.js";

export interface Query {
  readonly kind: "query";
  /** The RD bit (0 or 1) and CD bit (0 or 0x10) of the query, echoed in the response. */
  readonly rd: number;
  readonly cd: number;
  /** The question name is msg[12, nameEnd) in wire form (no root byte); nameHash is its hashWire. */
  readonly nameEnd: number;
  readonly nameHash: number;
  readonly qtype: number;
  readonly qclass: number;
  /** Offset just past the question section: msg[12, questionEnd) is the question as sent. */
  readonly questionEnd: number;
  /** The requestor's UDP payload size from its OPT record, or 0 when it sent no OPT record. */
  readonly ednsUdpSize: number;
  readonly ednsVersion: number;
  readonly ednsDo: boolean;
}

export interface ParseFailure {
  readonly kind: "error";
  /** FORMERR or NOTIMP: answer with the header alone. */
  readonly rcode: number;
}

export interface ParseDrop {
  readonly kind: "drop";
  readonly reason: "short" | "response";
}

export type ParseResult = Query | ParseFailure | ParseDrop;

const FORMERR: ParseFailure = Object.freeze({ kind: "error", rcode: RCODE_FORMERR });
const NOTIMP: ParseFailure = Object.freeze({ kind: "error", rcode: RCODE_NOTIMP });
const DROP_SHORT: ParseDrop = Object.freeze({ kind: "drop", reason: "short" });
const DROP_RESPONSE: ParseDrop = Object.freeze({ kind: "drop", reason: "response" });

/**
 * Skips a possibly compressed name starting at `o`; returns the offset after it, or -1 when it is
 * malformed. A pointer ends the name (it is not followed) and must point backwards.
 */
function skipName(msg: Buffer, o: number): number {
  const len = msg.length;
  let total = 1;
  for (;;) {
    if (o >= len) return -1;
    const l = msg[o]!;
    if (l === 0) return o + 1;
    if ((l & 0xc0) === 0xc0) {
      if (o + 2 > len) return -1;
      const target = ((l & 0x3f) << 8) | msg[o + 1]!;
      return target < o ? o + 2 : -1;
    }
    if (l > MAX_LABEL_LENGTH) return -1;
    total += l + 1;
    if (total > MAX_NAME_WIRE_LENGTH) return -1;
    o += l + 1;
  }
}

/** What parseQueryInto found: PARSED (the fields are set), a drop, or FORMERR/NOTIMP. */
export const PARSED = 0;
export const DROPPED_SHORT = -1;
export const DROPPED_RESPONSE = -2;

/**
 * The fields of a Query, overwritten by each parseQueryInto: the UDP and TCP paths reuse one per
 * handler, so parsing a query allocates nothing. Copy it ({ ...q }) to keep it past the call.
 */
export class ParsedQuery implements Query {
  readonly kind = "query";
  rd = 0;
  cd = 0;
  nameEnd = 0;
  nameHash = 0;
  qtype = 0;
  qclass = 0;
  questionEnd = 0;
  ednsUdpSize = 0;
  ednsVersion = 0;
  ednsDo = false;
}

export function parseQuery(msg: Buffer): ParseResult {
  const q = new ParsedQuery();
  const status = parseQueryInto(msg, q);
  if (status === PARSED) return { ...q };
  if (status === DROPPED_SHORT) return DROP_SHORT;
  if (status === DROPPED_RESPONSE) return DROP_RESPONSE;
  return status === RCODE_NOTIMP ? NOTIMP : FORMERR;
}

/**
 * Parses `msg` into `out`. Returns PARSED, DROPPED_SHORT, DROPPED_RESPONSE, or the rcode to answer
 * with the header alone (RCODE_FORMERR or RCODE_NOTIMP); `out` is meaningful only after PARSED.
 */
export function parseQueryInto(msg: Buffer, out: ParsedQuery): number {
  const len = msg.length;
  if (len < HEADER_SIZE) return DROPPED_SHORT;
  const b2 = msg[2]!;
  if (b2 & FLAG_QR) return DROPPED_RESPONSE;
  if ((b2 >> 3) & 0x0f) return RCODE_NOTIMP;
  if (msg[4] !== 0 || msg[5] !== 1) return RCODE_FORMERR;

  // The question name: plain labels only, hashed (hashWire, inlined) on the way.
  let o = HEADER_SIZE;
  let total = 1;
  let hash = 0x811c9dc5;
  for (;;) {
    if (o >= len) return RCODE_FORMERR;
    const l = msg[o]!;
    if (l === 0) break;
    if (l > MAX_LABEL_LENGTH) return RCODE_FORMERR;
    total += l + 1;
    if (total > MAX_NAME_WIRE_LENGTH || o + l >= len) return RCODE_FORMERR;
    hash = Math.imul(hash ^ l, 0x01000193);
    for (let i = o + 1, end = o + 1 + l; i < end; i++) hash = Math.imul(hash ^ lowerByte(msg[i]!), 0x01000193);
    o += l + 1;
  }
  const nameEnd = o;
  o += 5;
  if (o > len) return RCODE_FORMERR;
  const qtype = (msg[nameEnd + 1]! << 8) | msg[nameEnd + 2]!;
  const qclass = (msg[nameEnd + 3]! << 8) | msg[nameEnd + 4]!;
  const questionEnd = o;

  // Answer and authority records (normally none in a query): skip them.
  let records = ((msg[6]! << 8) | msg[7]!) + ((msg[8]! << 8) | msg[9]!);
  const additional = (msg[10]! << 8) | msg[11]!;
  let ednsUdpSize = 0;
  let ednsVersion = 0;
  let ednsDo = false;
  let sawOpt = false;
  records += additional;
  for (let i = 0; i < records; i++) {
    const nameStart = o;
    o = skipName(msg, o);
    if (o < 0 || o + 10 > len) return RCODE_FORMERR;
    const type = (msg[o]! << 8) | msg[o + 1]!;
    const rdlength = (msg[o + 8]! << 8) | msg[o + 9]!;
    const rdata = o + 10;
    const next = rdata + rdlength;
    if (next > len) return RCODE_FORMERR;
    if (type === TYPE_OPT) {
      // RFC 6891 section 6.1.1: at most one OPT, owned by the root, in the additional section.
      if (sawOpt || i < records - additional || o !== nameStart + 1) return RCODE_FORMERR;
      sawOpt = true;
      // 0 means "no OPT record" to callers; an advertised 0 is raised to 512 by the response builder.
      ednsUdpSize = Math.max(1, (msg[o + 2]! << 8) | msg[o + 3]!);
      ednsVersion = msg[o + 5]!;
      ednsDo = (msg[o + 6]! & 0x80) !== 0;
      // The options must tile the RDATA exactly.
      let p = rdata;
      while (p < next) {
        if (p + 4 > next) return RCODE_FORMERR;
        p += 4 + ((msg[p + 2]! << 8) | msg[p + 3]!);
      }
      if (p !== next) return RCODE_FORMERR;
    }
    o = next;
  }
  if (o !== len) return RCODE_FORMERR;

  out.rd = b2 & FLAG_RD;
  out.cd = msg[3]! & FLAG_CD;
  out.nameEnd = nameEnd;
  out.nameHash = hash & 0x3fffffff;
  out.qtype = qtype;
  out.qclass = qclass;
  out.questionEnd = questionEnd;
  out.ednsUdpSize = ednsUdpSize;
  out.ednsVersion = ednsVersion;
  out.ednsDo = ednsDo;
  return PARSED;
}
