// The public key a certificate is issued for, read from a SubjectPublicKeyInfo (a CSR's, or one
// stored for re-issuing) and checked: EC P-256, or RSA from 2048 to 8192 bits. Nothing else.
//
// EC keys are imported into Node as JWK (x, y) rather than as DER: OpenSSL 3.0's DER decoder costs
// about 170 us per key here, the JWK path about 75 us, and both check that the point is on the curve.
// The SPKI bytes themselves go into the certificate unchanged.
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { WeftError } from "../../common/errors.js";
import { TAG, bitStringBytes, children, decodeOid, expectTag, pem, readRoot, unpem, value, whole } from "./der.js";
import { OID, type KeyFamily, type SignatureAlgorithm } from "./oids.js";

export interface SubjectKey {
  readonly family: KeyFamily;
  /** Curve size or modulus length. */
  readonly bits: number;
  /** The SubjectPublicKeyInfo, byte for byte as received. */
  readonly spkiDer: Buffer;
  readonly keyObject: KeyObject;
  /** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits; an identifier, not a security check. */
  readonly keyId: Buffer;
}

const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;

function refuse(what: string, why: string, cause?: unknown): WeftError {
  return new WeftError("INVALID_ARGUMENT", `${what} ${why}`, cause === undefined ? undefined : { cause });
}

/** Parses and checks a SubjectPublicKeyInfo; `what` names it in errors ("CSR public key"). */
export function parseSubjectKey(spkiDer: Uint8Array, what: string): SubjectKey {
  let alg: string, curve: string, point: Buffer, spki: Buffer;
  try {
    const root = expectTag(readRoot(spkiDer), TAG.SEQUENCE, "SubjectPublicKeyInfo");
    const [algId, keyBits, extra] = children(spkiDer, root);
    if (extra !== undefined) throw new Error("trailing fields");
    const algParts = children(spkiDer, expectTag(algId, TAG.SEQUENCE, "algorithm"));
    alg = decodeOid(value(spkiDer, expectTag(algParts[0], TAG.OID, "algorithm")));
    const param = algParts[1];
    curve = param?.tag === TAG.OID ? decodeOid(value(spkiDer, param)) : "(none)";
    point = bitStringBytes(spkiDer, expectTag(keyBits, TAG.BIT_STRING, "key"), "key");
    spki = Buffer.from(whole(spkiDer, root));
  } catch (err) {
    throw refuse(what, `is malformed (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const keyId = createHash("sha1").update(point).digest();

  if (alg === OID.ecPublicKey) {
    if (curve !== OID.prime256v1) throw refuse(what, `has an unsupported EC curve ${curve}; use P-256`);
    if (point.length !== 65 || point[0] !== 0x04) throw refuse(what, "must be an uncompressed EC point (65 bytes)");
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({
        key: { kty: "EC", crv: "P-256", x: point.subarray(1, 33).toString("base64url"), y: point.subarray(33).toString("base64url") },
        format: "jwk",
      });
    } catch (err) {
      throw refuse(what, "is not a point on P-256", err);
    }
    return { family: "ec", bits: 256, spkiDer: spki, keyObject, keyId };
  }
  if (alg === OID.rsaEncryption) {
    let keyObject: KeyObject;
    try {
      keyObject = createPublicKey({ key: spki, format: "der", type: "spki" });
    } catch (err) {
      throw refuse(what, "is not a valid RSA key", err);
    }
    const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
      throw refuse(what, `is an RSA key of ${bits} bits; it must have ${RSA_MIN_BITS} to ${RSA_MAX_BITS}`);
    }
    return { family: "rsa", bits, spkiDer: spki, keyObject, keyId };
  }
  throw refuse(what, `has an unsupported key algorithm ${alg}; use EC P-256 or RSA >= ${RSA_MIN_BITS}`);
}

/** Parses a "PUBLIC KEY" PEM (SPKI), as stored for re-issuing. */
export function subjectKeyFromPem(publicKeyPem: string, what = "public key"): SubjectKey {
  return parseSubjectKey(unpem(publicKeyPem, ["PUBLIC KEY"], what), what);
}

export function subjectKeyPem(key: SubjectKey): string {
  return pem("PUBLIC KEY", key.spkiDer);
}

/** Verifies a signature made by this key with the given algorithm; a family mismatch is false. */
export function verifyWith(key: SubjectKey, alg: SignatureAlgorithm, data: Uint8Array, signature: Uint8Array): boolean {
  if (alg.family !== key.family) return false;
  try {
    return verify(alg.hash, data, key.keyObject, signature);
  } catch {
    return false;
  }
}
