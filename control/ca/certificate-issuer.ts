// Issues leaf certificates from one root: encodes the TBSCertificate (RFC 5280 4.1) directly as
// DER and signs it with Node's native, synchronous crypto.sign.
//
// Hand-written instead of @peculiar/x509's X509CertificateGenerator, which needs about 7 ms per
// certificate with CSR parsing and verification (~150/s on one core; the goal is 1,000/s). Here the
// parts that never change for a root (algorithm identifier, issuer Name copied byte for byte from
// the root, authority key identifier, basicConstraints, key usages) are encoded once in the
// constructor; per certificate only the serial, validity, subject, SANs and subject key identifier
// are encoded, and the subject's SPKI is copied as received. That leaves the native work (~0.2 ms
// for key import, CSR verification and signing) as the main cost.
import { randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";
import { WeftError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { silentLogger } from "../../common/logger.js";
import { DER_NULL, DER_TRUE, bitString, octetString, oid, pem, seq, set, time, tlv, unsignedInteger, utf8String } from "./der.js";
import { OID, signatureAlgorithmFor } from "./oids.js";
import { inspectRoot, type PemPair, type RootCa } from "./root-ca.js";
import { subjectKeyPem, type SubjectKey } from "./subject-key.js";

export type ExtKeyUsage = "serverAuth" | "clientAuth";

export interface LeafSpec {
  /** Subject attributes in order (most general first), e.g. OU..., then CN. */
  readonly subject: readonly { readonly type: "CN" | "OU"; readonly value: string }[];
  readonly key: SubjectKey;
  readonly dnsNames: readonly string[];
  readonly uris?: readonly string[];
  readonly ips?: readonly string[];
  readonly extKeyUsage: readonly ExtKeyUsage[];
  readonly validityMs: number;
}

export interface IssuedCertificate {
  /** The leaf, then the root that issued it. */
  readonly certificatePem: string;
  /** Unix ms. */
  readonly notAfter: number;
  /** The subject's SPKI as PEM, to store for re-issuing without a new CSR. */
  readonly publicKeyPem: string;
  /** Hex. */
  readonly serialNumber: string;
}

export interface IssuerOptions {
  readonly clock?: () => number;
  /** notBefore is this far in the past, for clock skew between hosts. Default 60 s. */
  readonly backdateMs?: number;
  readonly logger?: Logger;
}

const ATTR_OID = { CN: oid(OID.commonName), OU: oid(OID.organizationalUnit) } as const;
const EKU_OID = { serverAuth: oid(OID.serverAuth), clientAuth: oid(OID.clientAuth) } as const;

function extension(oidTlv: Buffer, critical: boolean, der: Buffer): Buffer {
  return critical ? seq(oidTlv, DER_TRUE, octetString(der)) : seq(oidTlv, octetString(der));
}

const EXT_NOT_CA = extension(oid(OID.basicConstraints), true, seq());
// keyUsage digitalSignature (EC); digitalSignature + keyEncipherment for RSA keys (TLS RSA kx).
const EXT_KU_EC = extension(oid(OID.keyUsage), true, Buffer.from([0x03, 0x02, 0x07, 0x80]));
const EXT_KU_RSA = extension(oid(OID.keyUsage), true, Buffer.from([0x03, 0x02, 0x05, 0xa0]));
const SKI_OID = oid(OID.subjectKeyIdentifier);
const SAN_OID = oid(OID.subjectAltName);
const EKU_EXT_OID = oid(OID.extKeyUsage);
const VERSION_3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

function ipv4Bytes(ip: string): number[] {
  return ip.split(".").map(Number);
}

/** An IP address as the 4 or 16 bytes of an iPAddress SAN. */
export function ipBytes(ip: string): Buffer {
  const v = isIP(ip);
  if (v === 4) return Buffer.from(ipv4Bytes(ip));
  if (v !== 6) throw new WeftError("INVALID_ARGUMENT", `not an IP address: ${ip}`);
  let text = ip.split("%")[0]!;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    // Trailing dotted quad (::ffff:10.0.0.1): rewrite it as two hex groups.
    const [a, b, c, d] = ipv4Bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

export class CertificateIssuer {
  readonly root: RootCa;
  private readonly clock: () => number;
  private readonly backdateMs: number;
  private readonly log: Logger;
  private readonly algId: Buffer;
  private readonly akiExt: Buffer;

  constructor(root: PemPair | RootCa, opts: IssuerOptions = {}) {
    this.clock = opts.clock ?? Date.now;
    this.root = "cert" in root ? root : inspectRoot(root, this.clock());
    this.backdateMs = opts.backdateMs ?? 60_000;
    this.log = opts.logger ?? silentLogger;
    const alg = signatureAlgorithmFor(this.root.family, this.root.hash);
    this.algId = this.root.family === "rsa" ? seq(oid(alg.oid), DER_NULL) : seq(oid(alg.oid));
    this.akiExt = extension(oid(OID.authorityKeyIdentifier), false, seq(tlv(0x80, this.root.keyId)));
  }

  /** Issues one leaf. Validity is clamped to the root's own. */
  issue(spec: LeafSpec): IssuedCertificate {
    const now = this.clock();
    const notBefore = Math.max(now - this.backdateMs, this.root.notBefore);
    const notAfter = Math.floor(Math.min(now + spec.validityMs, this.root.notAfter) / 1000) * 1000;
    if (!(spec.validityMs >= 1000)) throw new WeftError("INVALID_ARGUMENT", `validity must be at least 1 s, got ${spec.validityMs} ms`);
    if (notAfter <= now) throw new WeftError("INTERNAL", `the CA root expired at ${this.root.cert.validTo}`);
    const serial = randomBytes(16);
    serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, 16 bytes, 127 random bits
    const subject = seq(...spec.subject.map((a) => set(seq(ATTR_OID[a.type], utf8String(a.value)))));
    const names = [
      ...spec.dnsNames.map((d) => tlv(0x82, Buffer.from(d, "latin1"))),
      ...(spec.uris ?? []).map((u) => tlv(0x86, Buffer.from(u, "latin1"))),
      ...(spec.ips ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
    ];
    const extensions = [
      EXT_NOT_CA,
      spec.key.family === "rsa" ? EXT_KU_RSA : EXT_KU_EC,
      extension(EKU_EXT_OID, false, seq(...spec.extKeyUsage.map((u) => EKU_OID[u]))),
      extension(SKI_OID, false, octetString(spec.key.keyId)),
      this.akiExt,
      // SAN is critical only when the subject is empty (RFC 5280 4.2.1.6).
      extension(SAN_OID, spec.subject.length === 0, seq(...names)),
    ];
    const tbs = seq(
      VERSION_3,
      unsignedInteger(serial),
      this.algId,
      this.root.subjectDer,
      seq(time(notBefore), time(notAfter)),
      subject,
      spec.key.spkiDer,
      tlv(0xa3, seq(...extensions)),
    );
    const signature = sign(this.root.hash, tbs, this.root.key);
    const cert = seq(tbs, this.algId, bitString(signature));
    const serialNumber = serial.toString("hex");
    this.log.debug({ subject: spec.subject.at(-1)?.value, serial: serialNumber, notAfter }, "certificate-issued");
    return {
      certificatePem: pem("CERTIFICATE", cert) + this.root.certPem,
      notAfter,
      publicKeyPem: subjectKeyPem(spec.key),
      serialNumber,
    };
  }
}
