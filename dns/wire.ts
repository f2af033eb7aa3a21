// DNS wire-format constants and name helpers shared by the parser, the registry and the response
// builder (RFC 1035 section 4, RFC 6891 for EDNS0).
//
// Names are looked up by their *wire key*: the lower-cased wire encoding of the name without the
// terminating root byte, read as a latin1 string ("\x07backend\x04apps\x08internal"). The query
// parser can produce it with one Buffer slice and one toLowerCase, without building a dotted string,
// which keeps the per-query cost of the hot path down. ASCII is the only case folding DNS defines
// (RFC 4343); toLowerCase also folds latin1 letters 0xC0-0xDE, but none of those fold into ASCII and
// registry names are ASCII-only, so that cannot create a false match.

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

/** "backend.apps.internal" -> "\x07backend\x04apps\x08internal". The name must be normalised. */
export function nameToKey(name: string): string {
  if (name === "") return "";
  let key = "";
  for (const label of name.split(".")) key += String.fromCharCode(label.length) + label;
  return key;
}

/** The inverse of nameToKey, for logs and tests. Non-printable bytes are escaped as \DDD. */
export function keyToName(key: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    const raw = key.slice(i + 1, i + 1 + len);
    labels.push(raw.replace(/[^\x21-\x7e]|[.\\]/g, (c) => (c === "." || c === "\\" ? `\\${c}` : `\\${String(c.charCodeAt(0)).padStart(3, "0")}`)));
    i += len + 1;
  }
  return labels.join(".");
}

/**
 * True when the wire key is `domainKey` itself or a name below it. endsWith alone is not enough: the
 * bytes of a label may look like a length byte followed by the domain (a label "x\x04apps" then
 * "internal"), so walk the labels and require the suffix to start on a label boundary.
 */
export function isWithinDomain(key: string, domainKey: string): boolean {
  const offset = key.length - domainKey.length;
  if (offset < 0 || !key.endsWith(domainKey)) return false;
  let i = 0;
  while (i < offset) i += key.charCodeAt(i) + 1;
  return i === offset;
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
