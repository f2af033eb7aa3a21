// When a certificate stops (and starts) being valid, read from its PEM (the first block: the leaf
// of a chain). Cells use it to renew before expiry.
import { X509Certificate } from "node:crypto";
import { WeftError, errorMessage } from "./errors.js";

export interface CertificateValidity {
  /** Unix ms. */
  readonly notBefore: number;
  /** Unix ms. */
  readonly notAfter: number;
}

export function certificateValidity(certPem: string): CertificateValidity {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(certPem)?.[0];
  try {
    if (first === undefined) throw new Error("no PEM certificate");
    const cert = new X509Certificate(first);
    return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `certificate does not parse: ${errorMessage(err)}`, { cause: err });
  }
}

/** The leaf's notAfter, unix ms. */
export function certificateNotAfter(certPem: string): number {
  return certificateValidity(certPem).notAfter;
}
