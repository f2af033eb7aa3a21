// Checks a container's key, chain and trust bundle before they are served, so a bad push never
// replaces working credentials: the key must match the leaf, the leaf must be current and issued
// by a root in the bundle. The result is what tls.Server.setSecureContext() takes.
import { X509Certificate, createPrivateKey } from "node:crypto";
import type { SecureContextOptions } from "node:tls";
import { WeftError, errorMessage } from "../common/errors.js";
import type { SidecarCredentials } from "../common/sidecar-contract.js";

export interface ServingCredentials {
  readonly context: SecureContextOptions;
  /** The PEM texts as pushed, for the native data path (sidecar/dp/weft-tlsd.c). */
  readonly chainPem: string;
  readonly keyPem: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
  readonly leaf: X509Certificate;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function certificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new WeftError("INVALID_ARGUMENT", `${what} holds no certificate`);
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `${what} holds an unreadable certificate: ${errorMessage(err)}`, { cause: err });
  }
}

/** Throws INVALID_ARGUMENT with the reason when the credentials cannot be served. */
export function checkCredentials(c: SidecarCredentials, opts: { now?: number; requireClientCerts?: boolean } = {}): ServingCredentials {
  const chain = certificates(c.certificateChainPem, "certificate chain");
  const roots = certificates(c.caBundlePem, "CA bundle");
  const leaf = chain[0]!;
  let key;
  try {
    key = createPrivateKey(c.keyPem);
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `private key is unreadable: ${errorMessage(err)}`, { cause: err });
  }
  if (!leaf.checkPrivateKey(key)) throw new WeftError("INVALID_ARGUMENT", "private key does not match the certificate");
  const now = opts.now ?? Date.now();
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) throw new WeftError("INVALID_ARGUMENT", `certificate expired at ${notAfter.toISOString()}`);
  if (new Date(leaf.validFrom).getTime() > now + 5 * 60_000) throw new WeftError("INVALID_ARGUMENT", `certificate is not valid before ${leaf.validFrom}`);
  const issuer = roots.find((r) => leaf.checkIssued(r) && leaf.verify(r.publicKey));
  if (issuer === undefined) throw new WeftError("INVALID_ARGUMENT", "certificate is not issued by a root in the CA bundle");
  return {
    context: {
      key: c.keyPem,
      cert: c.certificateChainPem,
      // The trust bundle matters only when client certificates are checked; otherwise Node's
      // shared root store is used and the bundle costs nothing per container.
      ...(opts.requireClientCerts ? { ca: c.caBundlePem } : {}),
      minVersion: "TLSv1.2",
    },
    chainPem: c.certificateChainPem,
    keyPem: c.keyPem,
    serialNumber: leaf.serialNumber,
    notAfter,
    leaf,
  };
}
