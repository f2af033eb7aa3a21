// The cell side of certificate issuance: make an ECDSA P-256 key pair, which never leaves the
// cell, and a PKCS#10 CSR (PEM) for it that asks for a CN and DNS names. Used by the agent (its
// cell certificate, and a key and CSR per container) and the sidecar. Speed does not matter here
// (one CSR per container start or renewal), so the CSR is built with @peculiar/x509.
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from "node:crypto";
import { WeftError, errorMessage } from "./errors.js";
import { EC_P256, SIGN_SHA256, x509 } from "./x509.js";

export interface KeyPairPem {
  /** PKCS#8. */
  readonly privateKeyPem: string;
  /** SPKI. */
  readonly publicKeyPem: string;
}

export interface CsrSubject {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
}

export function generateP256KeyPair(): KeyPairPem {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

/** A CSR signed by the given P-256 private key (PKCS#8 PEM), e.g. to renew with the same key. */
export async function createCsrPem(privateKeyPem: string, subject: CsrSubject): Promise<string> {
  let keys: webcrypto.CryptoKeyPair;
  try {
    const priv = createPrivateKey(privateKeyPem);
    const pkcs8 = priv.export({ format: "der", type: "pkcs8" });
    const spki = createPublicKey(priv).export({ format: "der", type: "spki" });
    keys = {
      privateKey: await webcrypto.subtle.importKey("pkcs8", pkcs8, EC_P256, false, ["sign"]),
      publicKey: await webcrypto.subtle.importKey("spki", spki, EC_P256, true, ["verify"]),
    };
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `CSR key must be an EC P-256 PKCS#8 private key: ${errorMessage(err)}`, { cause: err });
  }
  const dnsNames = subject.dnsNames ?? [];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [subject.commonName] }],
    keys,
    signingAlgorithm: SIGN_SHA256,
    extensions:
      dnsNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value })))] : [],
  });
  return csr.toString("pem");
}

/** A fresh key pair and a CSR for it. */
export async function generateKeyAndCsr(subject: CsrSubject): Promise<KeyPairPem & { readonly csrPem: string }> {
  const pair = generateP256KeyPair();
  return { ...pair, csrPem: await createCsrPem(pair.privateKeyPem, subject) };
}
