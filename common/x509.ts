// X.509 helpers on @peculiar/x509 over Node's WebCrypto (native signing: fast, unlike node-forge).
// @peculiar/x509 needs reflect-metadata loaded first, hence the import order here.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { createHash, webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

export const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
export const SIGN_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export interface PemPair {
  readonly certPem: string;
  readonly keyPem: string;
}

export function pemFingerprint(certPem: string): string {
  const der = new x509.X509Certificate(certPem).rawData;
  return createHash("sha256").update(Buffer.from(der)).digest("hex").toUpperCase().match(/../g)!.join(":");
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
}

/** A self-signed server certificate (ECDSA P-256) for the given names and IPs. */
export async function selfSignedServerCert(opts: { commonName: string; dnsNames: string[]; ips: string[]; days: number }): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]));
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: webcrypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "").replace(/^[89a-f]/, "7"),
    name: `CN=${opts.commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + opts.days * 86_400_000),
    keys,
    signingAlgorithm: SIGN_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...opts.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...opts.ips.map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: await exportKeyPem(keys.privateKey) };
}

/** Loads DIR/NAME.{crt,key}, creating a self-signed pair there on first use. */
export async function loadOrCreateServerCert(dir: string, name: string): Promise<PemPair & { created: boolean }> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  if (existsSync(certFile) && existsSync(keyFile)) {
    return { certPem: readFileSync(certFile, "utf8"), keyPem: readFileSync(keyFile, "utf8"), created: false };
  }
  mkdirSync(dir, { recursive: true });
  const pair = await selfSignedServerCert({
    commonName: "weft-control",
    dnsNames: ["localhost", hostname()],
    ips: ["127.0.0.1", "::1"],
    days: 825,
  });
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  writeFileSync(certFile, pair.certPem);
  return { ...pair, created: true };
}
