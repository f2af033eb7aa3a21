// The caller's identity under mutual TLS, read from its verified platform certificate (instance
// certificate fields, ARCHITECTURE section 6): CN = instance GUID, OU = organization:/space:/app:,
// URI SAN = spiffe://<trust domain>/org/../space/../app/../instance/... And its rendering as
// Envoy's X-Forwarded-Client-Cert element (By, Hash, Subject, URI, DNS).
import type { TLSSocket } from "node:tls";

export interface ClientIdentity {
  readonly commonName: string | undefined;
  /** The workload identity URI (first URI SAN), if any. */
  readonly uri: string | undefined;
  readonly appGuid: string | undefined;
  readonly spaceGuid: string | undefined;
  readonly orgGuid: string | undefined;
  /** RFC 4514-like subject, most specific first (CN=...,OU=app:...). */
  readonly subject: string;
  readonly dnsNames: readonly string[];
  /** Lowercase hex SHA-256 of the certificate's DER. */
  readonly hash: string;
}

/** The verified client identity, or undefined when the client sent no (verified) certificate. */
export function clientIdentity(socket: TLSSocket): ClientIdentity | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerX509Certificate();
  if (cert === undefined) return undefined;
  const rdns = cert.subject.split("\n").filter(Boolean);
  const ous = rdns.filter((r) => r.startsWith("OU=")).map((r) => r.slice(3));
  const ou = (prefix: string) => ous.find((v) => v.startsWith(prefix))?.slice(prefix.length);
  const sans = (cert.subjectAltName ?? "").split(", ").filter(Boolean);
  return {
    commonName: rdns.find((r) => r.startsWith("CN="))?.slice(3),
    uri: sans.find((s) => s.startsWith("URI:"))?.slice(4),
    appGuid: ou("app:"),
    spaceGuid: ou("space:"),
    orgGuid: ou("organization:"),
    subject: [...rdns].reverse().join(","),
    dnsNames: sans.filter((s) => s.startsWith("DNS:")).map((s) => s.slice(4)),
    hash: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}

const quoted = (v: string) => `"${v.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;

/** One XFCC element: By=<our URI>;Hash=..;Subject="..";URI=..;DNS=.. (Envoy's format). */
export function xfccValue(id: ClientIdentity, by: string | undefined): string {
  const parts: string[] = [];
  if (by !== undefined) parts.push(`By=${by}`);
  parts.push(`Hash=${id.hash}`, `Subject=${quoted(id.subject)}`);
  if (id.uri !== undefined) parts.push(`URI=${id.uri}`);
  for (const d of id.dnsNames) parts.push(`DNS=${d}`);
  return parts.join(";");
}
