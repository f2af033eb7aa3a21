// Cell certificates: CN and DNS SAN are the cell id the caller passes (from the join), OU=cell,
// client and server auth, 7 days by default; a CSR for any other identity is refused.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyAndCsr } from "../../common/csr.js";
import { isWeftError } from "../../common/errors.js";
import { certs, inTempDir, opensslVerify } from "./ca-testing.js";
import { signCellCsr } from "./cell-certificate.js";
import { CertificateIssuer } from "./certificate-issuer.js";
import { createRootCa, type PemPair } from "./root-ca.js";

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!isWeftError(err, "INVALID_ARGUMENT")) throw err;
    return err.message;
  }
  throw new Error("not refused");
}

describe("cell certificates", () => {
  let root: PemPair;
  let issuer: CertificateIssuer;
  beforeAll(async () => {
    root = await createRootCa();
    issuer = new CertificateIssuer(root);
  });

  it("name the cell and verify for client and server use", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: "cell-7", dnsNames: ["cell-7"] });
    const before = Date.now();
    const issued = signCellCsr(issuer, csrPem, "cell-7");
    const [leaf, ca] = certs(issued.certificatePem);
    expect(leaf!.subject).toBe("OU=cell\nCN=cell-7");
    expect(leaf!.subjectAltName).toBe("DNS:cell-7");
    expect(leaf!.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(leaf!.checkIssued(ca!) && leaf!.verify(ca!.publicKey)).toBe(true);
    expect(issued.notAfter - before).toBeGreaterThan(7 * 86_400_000 - 2_000);
    expect(issued.notAfter - before).toBeLessThanOrEqual(7 * 86_400_000);
    for (const purpose of ["sslclient", "sslserver"]) {
      expect((await opensslVerify(root.certPem, issued.certificatePem, { purpose, hostname: "cell-7" })).output).toMatch(/: OK/);
    }
    const short = signCellCsr(issuer, csrPem, "cell-7", { validityMs: 600_000 });
    expect(short.notAfter - Date.now()).toBeLessThanOrEqual(600_000);
  });

  it("refuse a CSR for another cell, without a CN, or with other names", async () => {
    const other = await generateKeyAndCsr({ commonName: "cell-8" });
    expect(refusal(() => signCellCsr(issuer, other.csrPem, "cell-7"))).toBe('CSR refused: CN "cell-8" does not match cell cell-7; it must be "cell-7"');
    const extraSan = await generateKeyAndCsr({ commonName: "cell-7", dnsNames: ["cell-7", "control.weft"] });
    expect(refusal(() => signCellCsr(issuer, extraSan.csrPem, "cell-7"))).toBe('CSR refused: DNS name "control.weft" is not allowed for cell cell-7');
    const noCn = await inTempDir(async (dir, run) => {
      await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
      await run(["req", "-new", "-key", "k.pem", "-subj", "/O=cells", "-out", "c.pem"]);
      return readFile(join(dir, "c.pem"), "utf8");
    });
    expect(refusal(() => signCellCsr(issuer, noCn, "cell-7"))).toMatch(/subject attribute O=cells is not allowed; the subject may only be CN=cell-7/);
    expect(refusal(() => signCellCsr(issuer, other.csrPem, "bad id!"))).toBe('cell id "bad id!" is not a valid DNS name');
  });
});

describe("cell certificate refusals", () => {
  it("escape hostile values in messages and refuse a validity under a second", async () => {
    const issuer = new CertificateIssuer(await createRootCa());
    const { csrPem } = await generateKeyAndCsr({ commonName: `evil\n${"x".repeat(500)}` });
    const msg = refusal(() => signCellCsr(issuer, csrPem, "cell-7"));
    expect(msg).toMatch(/^CSR refused: CN "evil\\nx+\.\.\." does not match cell cell-7/);
    expect(msg.length).toBeLessThan(200);
    const ok = await generateKeyAndCsr({ commonName: "cell-7" });
    expect(refusal(() => signCellCsr(issuer, ok.csrPem, "cell-7", { validityMs: 0 }))).toBe("validity must be at least 1 s, got 0 ms");
  });
});
