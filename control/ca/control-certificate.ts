// The control plane's own gRPC server certificate (CN weft-control), signed by the platform CA so
// that agents trust it through the same bundle. Control makes the key pair itself. It is a server
// and client certificate (serverAuth + clientAuth). The caller re-issues it before notAfter and
// after a CA rotation; the default validity is 90 days.
import { generateKeyPairSync } from "node:crypto";
import { WeftError } from "../../common/errors.js";
import type { CertificateIssuer, IssuedCertificate } from "./certificate-issuer.js";
import { ipBytes } from "./certificate-issuer.js";
import { dnsName } from "./csr-policy.js";
import { parseSubjectKey } from "./subject-key.js";

export const CONTROL_COMMON_NAME = "weft-control";
export const CONTROL_CERT_VALIDITY_MS = 90 * 86_400_000;

export interface ControlCertOptions {
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
  readonly validityMs?: number;
}

export interface IssuedKeyPair extends IssuedCertificate {
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

export function issueControlServerCert(issuer: CertificateIssuer, opts: ControlCertOptions): IssuedKeyPair {
  if (opts.dnsNames.length + opts.ips.length === 0) {
    throw new WeftError("INVALID_ARGUMENT", "the control server certificate needs at least one DNS name or IP");
  }
  const dnsNames = opts.dnsNames.map((n) => dnsName(n, "control DNS name"));
  for (const ip of opts.ips) ipBytes(ip);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const key = parseSubjectKey(publicKey.export({ format: "der", type: "spki" }), "control public key");
  const issued = issuer.issue({
    subject: [{ type: "CN", value: CONTROL_COMMON_NAME }],
    key,
    dnsNames,
    ips: opts.ips,
    extKeyUsage: ["serverAuth", "clientAuth"],
    validityMs: opts.validityMs ?? CONTROL_CERT_VALIDITY_MS,
  });
  return { ...issued, keyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}
