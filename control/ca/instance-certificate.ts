// Container (instance) certificates for the sidecar on :61443, ARCHITECTURE section 6, the same
// fields as CF's c2c certificate (reference section 7):
//   subject   OU=organization:<org>, OU=space:<space>, OU=app:<app>, CN=<instance guid>
//   DNS SANs  the instance GUID, then every internal route of the app (backend.apps.internal, ...)
//   URI SAN   the workload identity spiffe://<trust domain>/org/<org>/space/<space>/app/<app>/instance/<instance>
//             (trust domain "weft" by default)
//   EKU       serverAuth + clientAuth; no IP SAN (clients connect by name); 24 h by default.
// Two entry points: from a CSR (its first issue; the CSR may ask only for names above), and from
// the stored SPKI (re-issue when routes change, before expiry or after a CA rotation, without a
// new CSR). The issued certificate always carries all of the names, whatever the CSR asked for.
import { WeftError } from "../../common/errors.js";
import type { CertificateIssuer, IssuedCertificate } from "./certificate-issuer.js";
import { checkCsrAllowed, dnsName } from "./csr-policy.js";
import { parseCsr } from "./csr.js";
import { subjectKeyFromPem, type SubjectKey } from "./subject-key.js";

export const INSTANCE_CERT_VALIDITY_MS = 24 * 3_600_000;
export const DEFAULT_TRUST_DOMAIN = "weft";

export interface InstanceIdentity {
  readonly instanceGuid: string;
  readonly appGuid: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
  /** The app's internal routes (hostnames such as backend.apps.internal). */
  readonly routes: readonly string[];
}

export interface InstanceCertOptions {
  readonly validityMs?: number;
  readonly trustDomain?: string;
}

// SPIFFE path segments: letters, digits, '.', '-', '_' and not "." or "..".
const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

function segment(v: string, what: string): string {
  if (!SEGMENT.test(v) || v === "." || v === "..") {
    throw new WeftError("INVALID_ARGUMENT", `${what} "${v}" may only contain letters, digits, '.', '-' and '_'`);
  }
  return v;
}

/** The workload identity URI of an instance. */
export function workloadUri(id: InstanceIdentity, trustDomain: string = DEFAULT_TRUST_DOMAIN): string {
  if (!TRUST_DOMAIN.test(trustDomain)) throw new WeftError("INVALID_ARGUMENT", `trust domain "${trustDomain}" is invalid`);
  return (
    `spiffe://${trustDomain}/org/${segment(id.orgGuid, "org GUID")}/space/${segment(id.spaceGuid, "space GUID")}` +
    `/app/${segment(id.appGuid, "app GUID")}/instance/${segment(id.instanceGuid, "instance GUID")}`
  );
}

interface InstanceNames {
  readonly dnsNames: string[];
  readonly uri: string;
}

/** The names an instance certificate carries: its GUID and routes (deduplicated), and its URI. */
export function instanceNames(id: InstanceIdentity, trustDomain?: string): InstanceNames {
  const uri = workloadUri(id, trustDomain);
  const dns = [dnsName(id.instanceGuid, "instance GUID"), ...id.routes.map((r) => dnsName(r, "route"))];
  return { dnsNames: [...new Set(dns)], uri };
}

function issueFor(issuer: CertificateIssuer, key: SubjectKey, id: InstanceIdentity, names: InstanceNames, opts: InstanceCertOptions): IssuedCertificate {
  return issuer.issue({
    subject: [
      { type: "OU", value: `organization:${id.orgGuid}` },
      { type: "OU", value: `space:${id.spaceGuid}` },
      { type: "OU", value: `app:${id.appGuid}` },
      { type: "CN", value: id.instanceGuid },
    ],
    key,
    dnsNames: names.dnsNames,
    uris: [names.uri],
    extKeyUsage: ["serverAuth", "clientAuth"],
    validityMs: opts.validityMs ?? INSTANCE_CERT_VALIDITY_MS,
  });
}

/** Verifies the CSR, checks it asks for nothing foreign, and signs with all of the instance's names. */
export function signInstanceCsr(
  issuer: CertificateIssuer,
  csrPem: string,
  id: InstanceIdentity,
  opts: InstanceCertOptions = {},
): IssuedCertificate {
  const names = instanceNames(id, opts.trustDomain);
  const req = parseCsr(csrPem);
  checkCsrAllowed(req, {
    holder: `instance ${id.instanceGuid}`,
    commonName: id.instanceGuid,
    commonNameOptional: true,
    dnsNames: new Set(names.dnsNames),
    uris: new Set([names.uri]),
  });
  return issueFor(issuer, req.key, id, names, opts);
}

/** Re-issues for a stored public key (SPKI PEM, as returned in publicKeyPem). */
export function issueInstanceCert(
  issuer: CertificateIssuer,
  publicKeyPem: string,
  id: InstanceIdentity,
  opts: InstanceCertOptions = {},
): IssuedCertificate {
  const names = instanceNames(id, opts.trustDomain);
  return issueFor(issuer, subjectKeyFromPem(publicKeyPem, "instance public key"), id, names, opts);
}
