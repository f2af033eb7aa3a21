// A cell's client and server certificate for the control stream: CN=<cell id>, OU=cell, a DNS SAN
// with the cell id, serverAuth and clientAuth, 7 days by default. The cell id comes from the join
// (its token), never from the CSR, which must ask for exactly that id.
import type { CertificateIssuer, IssuedCertificate } from "./certificate-issuer.js";
import { checkCsrAllowed, dnsName } from "./csr-policy.js";
import { parseCsr } from "./csr.js";

export const CELL_CERT_VALIDITY_MS = 7 * 86_400_000;
export const CELL_OU = "cell";

export interface CellCertOptions {
  readonly validityMs?: number;
}

/** Verifies the CSR, checks that its CN (and any SAN) is the cell id, and signs. */
export function signCellCsr(issuer: CertificateIssuer, csrPem: string, cellId: string, opts: CellCertOptions = {}): IssuedCertificate {
  const san = dnsName(cellId, "cell id");
  const req = parseCsr(csrPem);
  checkCsrAllowed(req, {
    holder: `cell ${cellId}`,
    commonName: cellId,
    commonNameOptional: false,
    dnsNames: new Set([san]),
    uris: new Set(),
  });
  return issuer.issue({
    subject: [
      { type: "OU", value: CELL_OU },
      { type: "CN", value: cellId },
    ],
    key: req.key,
    dnsNames: [san],
    extKeyUsage: ["serverAuth", "clientAuth"],
    validityMs: opts.validityMs ?? CELL_CERT_VALIDITY_MS,
  });
}
