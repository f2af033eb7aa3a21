// What a CSR may ask for. A CSR is only a request: the CA decides the certificate's contents from
// what it knows (the cell id from the join, the instance's registration), and the CSR may ask for
// no more than that. Its subject may hold only the expected CN, and every name it asks for must be
// one the certificate would carry anyway; anything else is refused, naming the foreign item.
import { WeftError } from "../../common/errors.js";
import type { CertificateRequest } from "./csr.js";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `name` (already lowercased) is a DNS hostname: dot-separated labels, at most 253 bytes. */
export function isDnsName(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split(".").every((l) => DNS_LABEL.test(l));
}

/** Lowercases and checks a DNS name we are about to put into a certificate. */
export function dnsName(name: string, what: string): string {
  const lower = name.toLowerCase();
  if (!isDnsName(lower)) throw new WeftError("INVALID_ARGUMENT", `${what} "${name}" is not a valid DNS name`);
  return lower;
}

export interface CsrAllowance {
  /** Names the CSR's subject: "cell cell-7", "instance 1f2e...". */
  readonly holder: string;
  readonly commonName: string;
  /** Whether the subject may be empty instead of carrying the CN. */
  readonly commonNameOptional: boolean;
  /** Lowercase. */
  readonly dnsNames: ReadonlySet<string>;
  readonly uris: ReadonlySet<string>;
}

/** A requester-supplied value, quoted and escaped for an error message, at most 100 characters. */
function quote(v: string): string {
  return JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}...` : v);
}

function refuse(msg: string): WeftError {
  return new WeftError("INVALID_ARGUMENT", `CSR refused: ${msg}`);
}

/** Throws INVALID_ARGUMENT unless the request asks for nothing beyond the allowance. */
export function checkCsrAllowed(req: CertificateRequest, allow: CsrAllowance): void {
  const cns = req.subject.filter((a) => a.type === "CN");
  const others = req.subject.filter((a) => a.type !== "CN");
  if (others.length > 0) {
    const o = others[0]!;
    throw refuse(`subject attribute ${o.type}=${quote(o.value).slice(1, -1)} is not allowed; the subject may only be CN=${allow.commonName}`);
  }
  if (cns.length === 0 && !allow.commonNameOptional) {
    throw refuse(`the subject has no CN; it must be CN=${allow.commonName}`);
  }
  if (cns.length > 1) throw refuse(`the subject has ${cns.length} CNs; it must be CN=${allow.commonName} only`);
  const cn = cns[0];
  if (cn !== undefined && cn.value !== allow.commonName) {
    throw refuse(`CN ${quote(cn.value)} does not match ${allow.holder}; it must be "${allow.commonName}"`);
  }
  for (const n of req.names) {
    if (n.kind === "dns" && allow.dnsNames.has(n.value.toLowerCase())) continue;
    if (n.kind === "uri" && allow.uris.has(n.value)) continue;
    const label = n.kind === "dns" ? "DNS name" : n.kind === "uri" ? "URI" : n.kind === "ip" ? "IP address" : "name";
    throw refuse(`${label} ${quote(n.value)} is not allowed for ${allow.holder}`);
  }
}
