// CSR reading: what we and openssl produce parses, a tampered or malformed CSR is refused with a
// clear INVALID_ARGUMENT, key types other than EC P-256 and RSA >= 2048 are refused, and no byte
// mutation can make the parser fail in any other way.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generateKeyAndCsr } from "../../common/csr.js";
import { isWeftError } from "../../common/errors.js";
import { x509 } from "../../common/x509.js";
import { inTempDir } from "./ca-testing.js";
import { parseCsr } from "./csr.js";
import { pem, unpem } from "./der.js";

const LABEL = "CERTIFICATE REQUEST";

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!isWeftError(err, "INVALID_ARGUMENT")) throw err;
    return err.message;
  }
  throw new Error("not refused");
}

async function opensslCsr(keyArgs: readonly string[], subject: string, san?: string): Promise<string> {
  return inTempDir(async (dir, run) => {
    await run(["genpkey", ...keyArgs, "-out", "key.pem"]);
    await run(["req", "-new", "-key", "key.pem", "-subj", subject, ...(san ? ["-addext", `subjectAltName=${san}`] : []), "-out", "csr.pem"]);
    return readFile(join(dir, "csr.pem"), "utf8");
  });
}

describe("CSR parsing", () => {
  it("reads our own CSRs, as @peculiar/x509 does", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: "inst-1", dnsNames: ["inst-1", "backend.apps.internal"] });
    const req = parseCsr(csrPem);
    expect(req.subject).toEqual([{ type: "CN", value: "inst-1" }]);
    expect(req.names).toEqual([
      { kind: "dns", value: "inst-1" },
      { kind: "dns", value: "backend.apps.internal" },
    ]);
    expect(req.key.family).toBe("ec");
    const lib = new x509.Pkcs10CertificateRequest(csrPem);
    expect(await lib.verify()).toBe(true);
    expect(lib.subject).toBe("CN=inst-1");
    expect(Buffer.from(lib.publicKey.rawData)).toEqual(req.key.spkiDer);
  });

  it("reads openssl's EC P-256 and RSA 2048 CSRs, with SANs of every kind", async () => {
    const ec = parseCsr(
      await opensslCsr(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "/O=acme/CN=cell-1", "DNS:cell-1,IP:10.0.0.1,URI:spiffe://x/y,email:a@b.c"),
    );
    expect(ec.subject).toEqual([
      { type: "O", value: "acme" },
      { type: "CN", value: "cell-1" },
    ]);
    expect(ec.names).toEqual([
      { kind: "dns", value: "cell-1" },
      { kind: "ip", value: "10.0.0.1" },
      { kind: "uri", value: "spiffe://x/y" },
      { kind: "other", value: "email:a@b.c" },
    ]);
    const rsa = parseCsr(await opensslCsr(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "/CN=cell-2", "DNS:cell-2,IP:fd00::1"));
    expect(rsa.key).toMatchObject({ family: "rsa", bits: 2048 });
    expect(rsa.names).toContainEqual({ kind: "ip", value: "fd00::1" });
  });

  it("refuses keys other than EC P-256 and RSA >= 2048", async () => {
    const rsa1024 = await opensslCsr(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], "/CN=x");
    expect(refusal(() => parseCsr(rsa1024))).toMatch(/CSR public key is an RSA key of 1024 bits; it must have 2048 to 8192/);
    const p384 = await opensslCsr(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "/CN=x");
    expect(refusal(() => parseCsr(p384))).toMatch(/CSR public key has an unsupported EC curve 1\.3\.132\.0\.34; use P-256/);
    const ed = await opensslCsr(["-algorithm", "ED25519"], "/CN=x");
    expect(refusal(() => parseCsr(ed))).toMatch(/CSR public key has an unsupported key algorithm 1\.3\.101\.112/);
  });

  it("refuses a CSR whose signature does not verify", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: "inst-1", dnsNames: ["inst-1"] });
    const der = unpem(csrPem, [LABEL], "CSR");
    // Change the requested name without re-signing.
    const forged = Buffer.from(der.toString("latin1").replace("inst-1", "inst-2").replace("inst-1", "inst-2"), "latin1");
    expect(refusal(() => parseCsr(pem(LABEL, forged)))).toBe("CSR signature does not verify");
    // Change one byte of the signature itself (the last byte of the DER).
    const badSig = Buffer.from(der);
    badSig[badSig.length - 1]! ^= 0x01;
    expect(refusal(() => parseCsr(pem(LABEL, badSig)))).toBe("CSR signature does not verify");
  });

  it("refuses what is not a CSR", async () => {
    expect(refusal(() => parseCsr("hello"))).toMatch(/CSR is not PEM/);
    expect(refusal(() => parseCsr(pem("CERTIFICATE", Buffer.from([0x30, 0]))))).toMatch(/CSR is not PEM/);
    expect(refusal(() => parseCsr(pem(LABEL, Buffer.from([0x30, 0]))))).toMatch(/CSR is malformed/);
    const { csrPem } = await generateKeyAndCsr({ commonName: "a" });
    const der = unpem(csrPem, [LABEL], "CSR");
    expect(refusal(() => parseCsr(pem(LABEL, der.subarray(0, der.length - 5))))).toMatch(/CSR is malformed/);
  });

  it("fails only with INVALID_ARGUMENT under random byte mutations", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: "inst-1", dnsNames: ["inst-1", "backend.apps.internal"] });
    const der = unpem(csrPem, [LABEL], "CSR");
    let seed = 42;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const m = Buffer.from(der);
      for (let k = 1 + rnd(3); k > 0; k--) m[rnd(m.length)] = rnd(256);
      try {
        parseCsr(pem(LABEL, m));
        accepted++;
      } catch (err) {
        if (!isWeftError(err, "INVALID_ARGUMENT")) throw err;
      }
    }
    // A mutation that still verifies must have left the signed bytes intact (e.g. a no-op write).
    expect(accepted).toBeLessThan(300);
  });
});
