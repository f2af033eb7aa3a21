// Platform CA roots: creating one (ECDSA P-256, 10 years, self-signed, CA with keyCertSign and
// cRLSign) and checking one before it is used, whether we made it or an operator gave it to us.
// Speed does not matter here (once per start or rotation), so this uses @peculiar/x509 for
// building and Node's X509Certificate for checking.
import { X509Certificate, createHash, createPrivateKey, webcrypto, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { WeftError, errorMessage } from "../../common/errors.js";
import { EC_P256, SIGN_SHA256, x509, type PemPair } from "../../common/x509.js";
import { TAG, children, expectTag, readRoot, unpem, value, whole } from "./der.js";
import type { HashName, KeyFamily } from "./oids.js";

export type { PemPair };

export const ROOT_VALIDITY_YEARS = 10;

export interface CreateRootOptions {
  readonly now?: number;
  readonly validityYears?: number;
}

function pemBlocks(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

/** The root's subject CN: "Weft Platform CA <UTC date and time>", so successive roots differ. */
export function rootCommonName(now: number): string {
  return `Weft Platform CA ${new Date(now).toISOString().slice(0, 19)}Z`;
}

/** A new self-signed ECDSA P-256 root. */
export async function createRootCa(opts: CreateRootOptions = {}): Promise<PemPair> {
  const now = opts.now ?? Date.now();
  const keys = await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + (opts.validityYears ?? ROOT_VALIDITY_YEARS));
  const serial = Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)));
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString("hex"),
    name: [{ CN: [rootCommonName(now)] }],
    notBefore: new Date(now - 60_000),
    notAfter,
    keys,
    signingAlgorithm: SIGN_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { certPem: `${cert.toString("pem")}\n`, keyPem: `${x509.PemConverter.encode(pkcs8, "PRIVATE KEY")}\n` };
}

/** What issuing needs from a checked root. */
export interface RootCa {
  readonly certPem: string;
  readonly cert: X509Certificate;
  readonly key: KeyObject;
  readonly family: KeyFamily;
  readonly hash: HashName;
  /** The DER subject Name, byte for byte: issued certificates' issuer field. */
  readonly subjectDer: Buffer;
  /** The root's subject key identifier (its extension, or computed the same way). */
  readonly keyId: Buffer;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly fingerprint256: string;
}

function invalid(msg: string, cause?: unknown): WeftError {
  return new WeftError("INVALID_ARGUMENT", `CA root: ${msg}`, cause === undefined ? undefined : { cause });
}

/** Subject Name bytes and subject key identifier, read from the certificate's own DER. */
function subjectAndKeyId(der: Buffer): { subjectDer: Buffer; keyId: Buffer } {
  const cert = expectTag(readRoot(der), TAG.SEQUENCE, "certificate");
  const tbs = children(der, expectTag(children(der, cert)[0], TAG.SEQUENCE, "tbsCertificate"));
  const fields = tbs[0]?.tag === 0xa0 ? tbs.slice(1) : tbs; // version is optional
  const subjectDer = Buffer.from(whole(der, expectTag(fields[4], TAG.SEQUENCE, "subject")));
  const spki = children(der, expectTag(fields[5], TAG.SEQUENCE, "subjectPublicKeyInfo"));
  const keyBits = value(der, expectTag(spki[1], TAG.BIT_STRING, "subjectPublicKey")).subarray(1);
  const parsed = new x509.X509Certificate(der);
  const ski = parsed.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski ? Buffer.from(ski.keyId, "hex") : createHash("sha1").update(keyBits).digest();
  return { subjectDer, keyId };
}

/**
 * Checks a root and prepares it for signing: a single self-signed CA certificate, currently valid,
 * allowed to sign certificates, whose key is the given private key (EC P-256/P-384 or RSA >= 2048).
 */
export function inspectRoot(root: PemPair, now: number = Date.now()): RootCa {
  const blocks = pemBlocks(root.certPem);
  if (blocks.length !== 1) throw invalid(`expected exactly one certificate, found ${blocks.length}`);
  let cert: X509Certificate, key: KeyObject;
  try {
    cert = new X509Certificate(blocks[0]!);
  } catch (err) {
    throw invalid(`certificate does not parse: ${errorMessage(err)}`, err);
  }
  try {
    key = createPrivateKey(root.keyPem);
  } catch (err) {
    throw invalid(`private key does not parse: ${errorMessage(err)}`, err);
  }
  if (!cert.ca) throw invalid(`${cert.subject} is not a CA certificate (basicConstraints cA is false)`);
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) {
    throw invalid(`${cert.subject} is not self-signed; give the root itself`);
  }
  if (!cert.checkPrivateKey(key)) throw invalid("the private key does not belong to the certificate");
  const notBefore = Date.parse(cert.validFrom);
  const notAfter = Date.parse(cert.validTo);
  if (!(notAfter > now)) throw invalid(`${cert.subject} expired at ${cert.validTo}`);
  const der = unpem(blocks[0]!, ["CERTIFICATE"], "CA certificate", 65_536);
  const ku = new x509.X509Certificate(der).getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) throw invalid("keyUsage lacks keyCertSign");
  const details = key.asymmetricKeyDetails ?? {};
  let family: KeyFamily, hash: HashName;
  if (key.asymmetricKeyType === "ec" && details.namedCurve === "prime256v1") [family, hash] = ["ec", "sha256"];
  else if (key.asymmetricKeyType === "ec" && details.namedCurve === "secp384r1") [family, hash] = ["ec", "sha384"];
  else if (key.asymmetricKeyType === "rsa" && (details.modulusLength ?? 0) >= 2048) [family, hash] = ["rsa", "sha256"];
  else throw invalid(`unsupported key ${key.asymmetricKeyType ?? "?"} ${details.namedCurve ?? details.modulusLength ?? ""}`);
  return {
    certPem: blocks[0]! + "\n",
    cert,
    key,
    family,
    hash,
    ...subjectAndKeyId(der),
    notBefore,
    notAfter,
    fingerprint256: cert.fingerprint256,
  };
}

/** Reads an operator-given root (certificate and key PEM files) and checks it. */
export function readRootFiles(certFile: string, keyFile: string): PemPair {
  let certPem: string, keyPem: string;
  try {
    certPem = readFileSync(certFile, "utf8");
    keyPem = readFileSync(keyFile, "utf8");
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `CA root files ${certFile}, ${keyFile}: ${errorMessage(err)}`, { cause: err });
  }
  const pair = { certPem, keyPem };
  inspectRoot(pair);
  return pair;
}

/** SHA-256 fingerprint (Node's colon-separated hex) of a single-certificate PEM. */
export function certFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
