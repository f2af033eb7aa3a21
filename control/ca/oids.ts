// The object identifiers certificate issuance reads and writes, and the signature algorithms we
// accept (as data, so the reader and the writer agree on one table).
export const OID = {
  commonName: "2.5.4.3",
  organizationalUnit: "2.5.4.11",
  ecPublicKey: "1.2.840.10045.2.1",
  prime256v1: "1.2.840.10045.3.1.7",
  secp384r1: "1.3.132.0.34",
  rsaEncryption: "1.2.840.113549.1.1.1",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

export type KeyFamily = "ec" | "rsa";
export type HashName = "sha256" | "sha384" | "sha512";

export interface SignatureAlgorithm {
  readonly oid: string;
  readonly family: KeyFamily;
  readonly hash: HashName;
}

/** Signature algorithms accepted on CSRs and used for issuing (RSA-PSS and SHA-1 are refused). */
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = [
  { oid: "1.2.840.10045.4.3.2", family: "ec", hash: "sha256" },
  { oid: "1.2.840.10045.4.3.3", family: "ec", hash: "sha384" },
  { oid: "1.2.840.10045.4.3.4", family: "ec", hash: "sha512" },
  { oid: "1.2.840.113549.1.1.11", family: "rsa", hash: "sha256" },
  { oid: "1.2.840.113549.1.1.12", family: "rsa", hash: "sha384" },
  { oid: "1.2.840.113549.1.1.13", family: "rsa", hash: "sha512" },
];

export function signatureAlgorithmByOid(oid: string): SignatureAlgorithm | undefined {
  return SIGNATURE_ALGORITHMS.find((a) => a.oid === oid);
}

export function signatureAlgorithmFor(family: KeyFamily, hash: HashName): SignatureAlgorithm {
  return SIGNATURE_ALGORITHMS.find((a) => a.family === family && a.hash === hash)!;
}
