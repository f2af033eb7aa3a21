// Reads a PKCS#10 certificate signing request (RFC 2986) and verifies its signature over the exact
// CertificationRequestInfo bytes received. It returns what the request asks for (subject
// attributes, subject alternative names) and its checked public key; the certificate profiles
// decide what of that is allowed. Only the subjectAltName extension request is read: every other
// requested extension is ignored, since issued extensions are fixed by the CA, never copied.
import { WeftError } from "../../common/errors.js";
import { TAG, bitStringBytes, children, decodeOid, expectTag, readRoot, readTlv, unpem, value, whole, type Tlv } from "./der.js";
import { OID, signatureAlgorithmByOid } from "./oids.js";
import { parseSubjectKey, verifyWith, type SubjectKey } from "./subject-key.js";

export type RequestedName =
  | { readonly kind: "dns"; readonly value: string }
  | { readonly kind: "uri"; readonly value: string }
  | { readonly kind: "ip"; readonly value: string }
  | { readonly kind: "other"; readonly value: string };

export interface SubjectAttribute {
  /** Short name (CN, OU, O, ...) or the dotted OID. */
  readonly type: string;
  readonly value: string;
}

export interface CertificateRequest {
  readonly subject: readonly SubjectAttribute[];
  readonly names: readonly RequestedName[];
  readonly key: SubjectKey;
}

const SHORT_NAMES: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "emailAddress",
};

function bad(why: string, cause?: unknown): WeftError {
  return new WeftError("INVALID_ARGUMENT", `CSR ${why}`, cause === undefined ? undefined : { cause });
}

function readString(buf: Buffer, t: Tlv): string {
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return value(buf, t).toString("utf8");
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
      return value(buf, t).toString("latin1");
    default:
      return `<string type 0x${t.tag.toString(16)}>`;
  }
}

function readSubject(buf: Buffer, name: Tlv): SubjectAttribute[] {
  const out: SubjectAttribute[] = [];
  for (const rdn of children(buf, expectTag(name, TAG.SEQUENCE, "subject"))) {
    for (const atv of children(buf, expectTag(rdn, TAG.SET, "subject RDN"))) {
      const [type, val] = children(buf, expectTag(atv, TAG.SEQUENCE, "subject attribute"));
      const oid = decodeOid(value(buf, expectTag(type, TAG.OID, "subject attribute type")));
      if (val === undefined) throw bad("has a subject attribute without a value");
      out.push({ type: SHORT_NAMES[oid] ?? oid, value: readString(buf, val) });
    }
  }
  return out;
}

function readGeneralNames(buf: Buffer, octets: Tlv): RequestedName[] {
  const inner = readTlv0(buf, octets);
  const out: RequestedName[] = [];
  for (const gn of children(buf, expectTag(inner, TAG.SEQUENCE, "subjectAltName"))) {
    const v = value(buf, gn);
    if (gn.tag === 0x82) out.push({ kind: "dns", value: v.toString("latin1") });
    else if (gn.tag === 0x86) out.push({ kind: "uri", value: v.toString("latin1") });
    else if (gn.tag === 0x87) out.push({ kind: "ip", value: formatIp(v) });
    else if (gn.tag === 0x81) out.push({ kind: "other", value: `email:${v.toString("latin1")}` });
    else out.push({ kind: "other", value: `general name with tag 0x${gn.tag.toString(16)}` });
  }
  return out;
}

/** The one TLV inside an OCTET STRING (an extension's value). */
function readTlv0(buf: Buffer, octets: Tlv): Tlv {
  const t = readTlv(buf, octets.valueStart, octets.end);
  if (t.end !== octets.end) throw bad("has a malformed extension value");
  return t;
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return [...b].join(".");
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
    // The URL parser gives the canonical (compressed) form.
    return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  }
  return `<ip ${b.toString("hex")}>`;
}

function readRequestedNames(buf: Buffer, attributes: Tlv | undefined): RequestedName[] {
  if (attributes === undefined) return [];
  if (attributes.tag !== 0xa0) throw bad("attributes must be [0]");
  const names: RequestedName[] = [];
  for (const attr of children(buf, attributes)) {
    const [type, values] = children(buf, expectTag(attr, TAG.SEQUENCE, "attribute"));
    const oid = decodeOid(value(buf, expectTag(type, TAG.OID, "attribute type")));
    if (oid !== OID.extensionRequest) continue;
    for (const exts of children(buf, expectTag(values, TAG.SET, "extensionRequest values"))) {
      for (const ext of children(buf, expectTag(exts, TAG.SEQUENCE, "extensions"))) {
        const parts = children(buf, expectTag(ext, TAG.SEQUENCE, "extension"));
        const extOid = decodeOid(value(buf, expectTag(parts[0], TAG.OID, "extension id")));
        if (extOid !== OID.subjectAltName) continue;
        const octets = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, "subjectAltName value");
        names.push(...readGeneralNames(buf, octets));
      }
    }
  }
  return names;
}

/** Parses a PEM CSR and verifies its signature. Every failure is INVALID_ARGUMENT. */
export function parseCsr(csrPem: string): CertificateRequest {
  const der = unpem(csrPem, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"], "CSR");
  let info: Buffer, sigAlgOid: string, signature: Buffer, subject: SubjectAttribute[], names: RequestedName[], spki: Buffer;
  try {
    const root = expectTag(readRoot(der), TAG.SEQUENCE, "CSR");
    const [infoTlv, sigAlgTlv, sigTlv, extra] = children(der, root);
    if (extra !== undefined) throw bad("has trailing fields");
    const infoParts = children(der, expectTag(infoTlv, TAG.SEQUENCE, "CertificationRequestInfo"));
    const version = expectTag(infoParts[0], TAG.INTEGER, "version");
    if (version.end - version.valueStart !== 1 || der[version.valueStart] !== 0) throw bad("version must be 1 (0)");
    subject = readSubject(der, expectTag(infoParts[1], TAG.SEQUENCE, "subject"));
    spki = whole(der, expectTag(infoParts[2], TAG.SEQUENCE, "subjectPKInfo"));
    names = readRequestedNames(der, infoParts[3]);
    if (infoParts.length > 4) throw bad("has unexpected fields");
    const algParts = children(der, expectTag(sigAlgTlv, TAG.SEQUENCE, "signatureAlgorithm"));
    sigAlgOid = decodeOid(value(der, expectTag(algParts[0], TAG.OID, "signatureAlgorithm")));
    signature = bitStringBytes(der, expectTag(sigTlv, TAG.BIT_STRING, "signature"), "signature");
    info = whole(der, infoTlv!);
  } catch (err) {
    if (err instanceof WeftError && err.message.startsWith("CSR ")) throw err;
    throw bad(`is malformed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  const key = parseSubjectKey(spki, "CSR public key");
  const alg = signatureAlgorithmByOid(sigAlgOid);
  if (alg === undefined) throw bad(`signature algorithm ${sigAlgOid} is not supported (use ECDSA or RSA PKCS#1 v1.5 with SHA-2)`);
  if (alg.family !== key.family) throw bad(`signature algorithm ${sigAlgOid} does not match its ${key.family.toUpperCase()} key`);
  if (!verifyWith(key, alg, info, signature)) throw bad("signature does not verify");
  return { subject, names, key };
}
