// A minimal, strict DER reader and writer: just what certificate issuance needs.
//
// Hand-written on purpose. @peculiar/x509 (asn1js + asn1-schema underneath) takes about 1.2 ms to
// parse one CSR and 7 ms to parse, verify and issue one certificate, which caps issuance near
// 150/s on one core; the goal is 1,000/s. The native parts (key import, ECDSA verify and sign) cost
// about 0.2 ms together, so the ASN.1 work has to be a few microseconds: a TLV walker over the
// exact input bytes and a TLV concatenator for the output. Everything that is not on the hot path
// (creating a root, reading its extensions, building a cell's CSR) still uses @peculiar/x509.
//
// The reader is for hostile input: single-byte tags only, definite minimal lengths, every length
// checked against its enclosing value, no trailing bytes. Any violation is INVALID_ARGUMENT.
import { WeftError } from "../../common/errors.js";

/** One tag-length-value inside `buf`: the value is buf[valueStart, end), the whole TLV buf[start, end). */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function malformed(what: string): WeftError {
  return new WeftError("INVALID_ARGUMENT", `malformed DER: ${what}`);
}

/** Reads the TLV starting at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit: number = buf.length): Tlv {
  if (offset + 2 > limit) throw malformed("truncated header");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw malformed("multi-byte tags are not supported");
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw malformed("indefinite length");
    if (n > 3) throw malformed("length too large");
    if (pos + n > limit) throw malformed("truncated length");
    if (buf[pos] === 0) throw malformed("non-minimal length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    if (len < 0x80) throw malformed("non-minimal length");
    pos += n;
  }
  const end = pos + len;
  if (end > limit) throw malformed("value runs past its container");
  return { tag, start: offset, valueStart: pos, end };
}

/** Reads exactly one TLV spanning all of `buf`. */
export function readRoot(buf: Uint8Array): Tlv {
  const t = readTlv(buf, 0, buf.length);
  if (t.end !== buf.length) throw malformed("trailing bytes");
  return t;
}

/** The TLVs inside a constructed value; they must fill it exactly. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  if ((parent.tag & 0x20) === 0) throw malformed(`tag 0x${parent.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let pos = parent.valueStart; pos < parent.end; ) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

export function expectTag(t: Tlv | undefined, tag: number, what: string): Tlv {
  if (t === undefined) throw malformed(`${what} is missing`);
  if (t.tag !== tag) throw malformed(`${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

export function value(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.valueStart, t.end - t.valueStart);
}

export function whole(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

/** Decodes an OBJECT IDENTIFIER value to dotted form. */
export function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0 || bytes.length > 64) throw malformed("bad OID length");
  const arcs: number[] = [];
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (n === 0 && b === 0x80) throw malformed("non-minimal OID arc");
    n = n * 128 + (b & 0x7f);
    if (n > Number.MAX_SAFE_INTEGER / 128) throw malformed("OID arc too large");
    if ((b & 0x80) === 0) {
      arcs.push(n);
      n = 0;
    } else if (i === bytes.length - 1) {
      throw malformed("truncated OID");
    }
  }
  const first = arcs[0]!;
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80];
  return [...head, ...arcs.slice(1)].join(".");
}

/** The bytes of a BIT STRING with no unused bits (keys and signatures). */
export function bitStringBytes(buf: Uint8Array, t: Tlv, what: string): Buffer {
  expectTag(t, TAG.BIT_STRING, what);
  if (t.end - t.valueStart < 1 || buf[t.valueStart] !== 0) throw malformed(`${what}: unused bits`);
  return Buffer.from(buf.buffer, buf.byteOffset + t.valueStart + 1, t.end - t.valueStart - 1);
}

// --- writer ---------------------------------------------------------------------------------

function header(tag: number, len: number): Buffer {
  if (len < 0x80) return Buffer.from([tag, len]);
  if (len < 0x100) return Buffer.from([tag, 0x81, len]);
  if (len < 0x10000) return Buffer.from([tag, 0x82, len >> 8, len & 0xff]);
  if (len < 0x1000000) return Buffer.from([tag, 0x83, len >> 16, (len >> 8) & 0xff, len & 0xff]);
  throw new WeftError("INVALID_ARGUMENT", "DER value too large");
}

/** One TLV whose value is the concatenation of parts. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  return Buffer.concat([header(tag, len), ...parts]);
}

export const seq = (...parts: readonly Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...parts);
export const set = (...parts: readonly Uint8Array[]): Buffer => tlv(TAG.SET, ...parts);

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  const push = (n: number): void => {
    const tmp = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) tmp.unshift((n & 0x7f) | 0x80);
    out.push(...tmp);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Buffer.from(out));
}

/** A positive INTEGER from big-endian magnitude bytes (a leading zero is added when needed). */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes.subarray(i);
  return (body[0]! & 0x80) !== 0 ? tlv(TAG.INTEGER, Buffer.from([0]), body) : tlv(TAG.INTEGER, body);
}

export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, "utf8"));
export const octetString = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
export const bitString = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), b);
export const DER_TRUE = Buffer.from([TAG.BOOLEAN, 1, 0xff]);
export const DER_NULL = Buffer.from([TAG.NULL, 0]);

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always whole seconds in UTC. */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  const rest = [d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    .map((n) => String(n).padStart(2, "0"))
    .join("");
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${String(y % 100).padStart(2, "0")}${rest}Z`, "latin1"));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(y).padStart(4, "0")}${rest}Z`, "latin1"));
}

export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** Decodes the first PEM block with one of the given labels; anything else is INVALID_ARGUMENT. */
export function unpem(text: string, labels: readonly string[], what: string, maxBytes = 16_384): Buffer {
  if (text.length > maxBytes * 2) throw new WeftError("INVALID_ARGUMENT", `${what} is too large`);
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/.exec(text);
  if (!m || !labels.includes(m[1]!)) {
    throw new WeftError("INVALID_ARGUMENT", `${what} is not PEM (expected -----BEGIN ${labels[0]}-----)`);
  }
  const der = Buffer.from(m[2]!.replace(/\s+/g, ""), "base64");
  if (der.length === 0) throw new WeftError("INVALID_ARGUMENT", `${what} is empty`);
  if (der.length > maxBytes) throw new WeftError("INVALID_ARGUMENT", `${what} is too large`);
  return der;
}
