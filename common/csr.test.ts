// The cell-side helpers: a P-256 key and a CSR openssl accepts, renewal CSRs from an existing key,
// and reading a certificate's validity.
import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { certificateNotAfter, certificateValidity } from "./certificate-validity.js";
import { createCsrPem, generateKeyAndCsr } from "./csr.js";
import { isWeftError } from "./errors.js";
import { selfSignedServerCert } from "./x509.js";

describe("cell CSR helpers", () => {
  it("make a P-256 key and a CSR with the CN and DNS names that openssl verifies", async () => {
    const { csrPem, privateKeyPem, publicKeyPem } = await generateKeyAndCsr({ commonName: "cell-1", dnsNames: ["cell-1", "a.apps.internal"] });
    expect(createPrivateKey(privateKeyPem).asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    const dir = mkdtempSync(join(tmpdir(), "weft-csr-"));
    try {
      writeFileSync(join(dir, "csr.pem"), csrPem);
      const text = execFileSync("openssl", ["req", "-in", join(dir, "csr.pem"), "-verify", "-noout", "-text"], { stdio: "pipe" }).toString();
      expect(text).toMatch(/Subject: CN ?= ?cell-1/);
      expect(text).toMatch(/DNS:cell-1, DNS:a\.apps\.internal/);
      const pub = execFileSync("openssl", ["req", "-in", join(dir, "csr.pem"), "-pubkey", "-noout"]).toString();
      expect(pub).toBe(publicKeyPem);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Renewal with the same key.
    expect(await createCsrPem(privateKeyPem, { commonName: "cell-1" })).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
  });

  it("refuse a key that is not EC P-256", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await expect(createCsrPem(rsa, { commonName: "x" })).rejects.toSatisfy((e) => isWeftError(e, "INVALID_ARGUMENT"));
  });

  it("read a certificate's validity, and refuse what is not one", async () => {
    const { certPem } = await selfSignedServerCert({ commonName: "x", dnsNames: ["x"], ips: [], days: 2 });
    const v = certificateValidity(certPem);
    expect(v.notAfter - v.notBefore).toBe(2 * 86_400_000 + 60_000);
    expect(certificateNotAfter(certPem)).toBe(v.notAfter);
    expect(() => certificateNotAfter("nope")).toThrow(/certificate does not parse/);
  });
});
