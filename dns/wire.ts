// DNS wire-format constants and name helpers shared by the parser, the registry and the response
// builder (RFC 1035 section 4, RFC 6891 for EDNS0).
//
// Names are handled in wire form (length-prefixed labels, "\x07backend\x04apps\x08internal", without
// the root byte) and compared case-insensitively byte by byte, so the query hot path never builds a
// string: the parser hashes the question name as it walks it, and the registry's name table
// (name-table.ts) finds the entry by that hash and confirms it byte by byte.

export const HEADER_SIZE = 12;
/** The UDP payload limit for a query without EDNS0 (RFC 1035 section 4.2.1). */
export const CLASSIC_UDP_LIMIT = 512;
export const MAX_MESSAGE_SIZE = 65535;
export const MAX_NAME_WIRE_LENGTH = 255;
export const MAX_LABEL_LENGTH = 63;

export const TYPE_A = 1;
export const TYPE_OPT = 41;
export const CLASS_IN = 1;

export const RCODE_NOERROR = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;
/** Extended rcode 16 (RFC 6891 section 6.1.3): the upper 8 bits (1) travel in the OPT record. */
export const EXTENDED_RCODE_BADVERS = 1;

export const RCODE_NAMES: readonly string[] = [
  "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
  "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
];

/** Header byte 2: QR, opcode(4), AA, TC, RD. Header byte 3: RA, Z, AD, CD, rcode(4). */
export const FLAG_QR = 0x80;
export const FLAG_AA = 0x04;
export const FLAG_TC = 0x02;
export const FLAG_RD = 0x01;
export const FLAG_RA = 0x80;
export const FLAG_CD = 0x10;
/** The DO bit in the OPT record's TTL field (RFC 3225). */
export const EDNS_FLAG_DO = 0x8000;

const LABEL = /^[a-z0-9_-]{1,63}$/;

/**
 * Normalises a host name ("Backend.Apps.Internal." -> "backend.apps.internal") or returns undefined
 * when it is not a name the registry can serve: labels of letters, digits, '-' or '_', at most 63
 * characters each and 253 in all.
 */
export function normalizeName(name: string): string | undefined {
  let n = name.toLowerCase();
  if (n.endsWith(".")) n = n.slice(0, -1);
  if (n.length === 0 || n.length > 253) return undefined;
  for (const label of n.split(".")) if (!LABEL.test(label)) return undefined;
  return n;
}

/** "backend.apps.internal" -> the wire bytes \x07backend\x04apps\x08internal (no root byte). */
export function nameToWire(name: string): Buffer {
  if (name === "") return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(name.length + 1);
  let lengthAt = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      out[lengthAt] = i - lengthAt;
      lengthAt = i + 1;
    } else {
      out[i + 1] = c;
    }
  }
  out[lengthAt] = name.length - lengthAt;
  return out;
}

/** The dotted form of wire bytes [start, end) (no root byte), for logs and tests; odd bytes as \DDD. */
export function wireToName(buf: Buffer, start = 0, end = buf.length): string {
  const labels: string[] = [];
  let i = start;
  while (i < end) {
    const len = buf[i]!;
    const raw = buf.toString("latin1", i + 1, Math.min(i + 1 + len, end));
    labels.push(raw.replace(/[^\x21-\x7e]|[.\\]/g, (c) => (c === "." || c === "\\" ? `\\${c}` : `\\${String(c.charCodeAt(0)).padStart(3, "0")}`)));
    i += len + 1;
  }
  return labels.join(".");
}

/** ASCII lower case of one byte (RFC 4343: DNS names compare case-insensitively in ASCII only). */
export function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

/**
 * FNV-1a over the lower-cased bytes [start, end), folded to a small non-negative integer (a V8 Smi,
 * so it is a cheap Map key). Length bytes are below 0x40 and so never changed by lower-casing.
 */
export function hashWire(buf: Buffer, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ lowerByte(buf[i]!), 0x01000193);
  return h & 0x3fffffff;
}

/** True when msg[start, end) spells `key` (lower-case wire bytes), ignoring ASCII case. */
export function wireEquals(key: Buffer, msg: Buffer, start: number, end: number): boolean {
  if (end - start !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== lowerByte(msg[start + i]!)) return false;
  return true;
}

/**
 * True when the name msg[start, end) is the domain `domainWire` (lower-case wire bytes) or below
 * it. Walks the labels, so the suffix must start on a label boundary: comparing trailing bytes alone
 * could be fooled by a label whose bytes look like a length byte followed by the domain.
 */
export function isWithinDomain(msg: Buffer, start: number, end: number, domainWire: Buffer): boolean {
  const offset = end - domainWire.length;
  let i = start;
  while (i < offset) i += msg[i]! + 1;
  return i === offset && wireEquals(domainWire, msg, offset, end);
}

/** "10.255.0.7" -> 0x0aff0007, or undefined when it is not a dotted-quad IPv4 address. */
export function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const b = Number(p);
    if (b > 255) return undefined;
    n = n * 256 + b;
  }
  return n;
}

export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}
