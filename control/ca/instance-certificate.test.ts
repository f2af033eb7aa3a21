// Container certificates (ARCHITECTURE section 6), checked by openssl and by Node's X509Certificate:
// chain, names, OUs, workload URI, EKU and validity; what a CSR may and may not ask for; re-issuing
// from the stored public key; and an RSA root signing.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { certificateNotAfter } from "../../common/certificate-validity.js";
import { createCsrPem, generateKeyAndCsr } from "../../common/csr.js";
import { isWeftError } from "../../common/errors.js";
import { certs, inTempDir, opensslVerify } from "./ca-testing.js";
import { CertificateIssuer } from "./certificate-issuer.js";
import { issueInstanceCert, signInstanceCsr, workloadUri, type InstanceIdentity } from "./instance-certificate.js";
import { createRootCa, type PemPair } from "./root-ca.js";

const ID: InstanceIdentity = {
  instanceGuid: "6f1c2a9e-0b7d-4f3a-9c1e-2d5b8a7f0c11",
  appGuid: "app-guid-1",
  spaceGuid: "space-guid-1",
  orgGuid: "org-guid-1",
  routes: ["backend.apps.internal", "api.apps.internal"],
};
const URI = `spiffe://weft/org/org-guid-1/space/space-guid-1/app/app-guid-1/instance/${ID.instanceGuid}`;

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!isWeftError(err, "INVALID_ARGUMENT")) throw err;
    return err.message;
  }
  throw new Error("not refused");
}

describe("instance certificates", () => {
  let root: PemPair;
  let issuer: CertificateIssuer;
  beforeAll(async () => {
    root = await createRootCa();
    issuer = new CertificateIssuer(root);
  });

  it("carry the instance GUID, every route, the OUs and the workload URI, and verify", async () => {
    const { csrPem, publicKeyPem } = await generateKeyAndCsr({ commonName: ID.instanceGuid, dnsNames: [ID.instanceGuid, "backend.apps.internal"] });
    const before = Date.now();
    const issued = signInstanceCsr(issuer, csrPem, ID);
    const [leaf, ca, extra] = certs(issued.certificatePem);
    expect(extra).toBeUndefined();
    expect(ca!.fingerprint256).toBe(certs(root.certPem)[0]!.fingerprint256);
    expect(leaf!.checkIssued(ca!)).toBe(true);
    expect(leaf!.verify(ca!.publicKey)).toBe(true);
    expect(leaf!.ca).toBe(false);
    expect(leaf!.subject).toBe(`OU=organization:org-guid-1\nOU=space:space-guid-1\nOU=app:app-guid-1\nCN=${ID.instanceGuid}`);
    expect(leaf!.subjectAltName).toBe(`DNS:${ID.instanceGuid}, DNS:backend.apps.internal, DNS:api.apps.internal, URI:${URI}`);
    expect(leaf!.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(leaf!.publicKey.export({ format: "pem", type: "spki" })).toBe(publicKeyPem);
    expect(issued.publicKeyPem).toBe(publicKeyPem);
    expect(issued.notAfter).toBe(Date.parse(leaf!.validTo));
    expect(certificateNotAfter(issued.certificatePem)).toBe(issued.notAfter);
    expect(issued.notAfter - before).toBeGreaterThan(24 * 3_600_000 - 2_000);
    expect(issued.notAfter - before).toBeLessThanOrEqual(24 * 3_600_000);
    expect(Date.parse(leaf!.validFrom)).toBeLessThanOrEqual(before);
    expect(issued.serialNumber).toBe(leaf!.serialNumber.toLowerCase());

    for (const opts of [{}, { hostname: "backend.apps.internal" }, { hostname: ID.instanceGuid }, { purpose: "sslserver" }, { purpose: "sslclient" }]) {
      const r = await opensslVerify(root.certPem, issued.certificatePem, opts);
      expect(r.output).toMatch(/: OK/);
    }
    expect((await opensslVerify(root.certPem, issued.certificatePem, { hostname: "other.apps.internal" })).ok).toBe(false);
  });

  it("have the extensions RFC 5280 and TLS clients expect", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    const issued = signInstanceCsr(issuer, csrPem, ID);
    const text = await inTempDir(async (dir, run) => {
      await import("node:fs/promises").then((fs) => fs.writeFile(join(dir, "leaf.pem"), issued.certificatePem));
      return run(["x509", "-in", "leaf.pem", "-noout", "-text"]);
    });
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/);
    expect(text).toMatch(/Subject Key Identifier/);
    const rootSki = await inTempDir(async (dir, run) => {
      await import("node:fs/promises").then((fs) => fs.writeFile(join(dir, "ca.pem"), root.certPem));
      return run(["x509", "-in", "ca.pem", "-noout", "-ext", "subjectKeyIdentifier"]);
    });
    const ski = /\n\s+([0-9A-F:]+)/.exec(rootSki)![1]!;
    expect(text).toMatch(new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`));
    expect(text).not.toMatch(/IP Address/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
  });

  it("accept a CSR with only the CN, or with the workload URI, and issue all names", async () => {
    const cnOnly = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    expect(certs(signInstanceCsr(issuer, cnOnly.csrPem, ID).certificatePem)[0]!.subjectAltName).toContain("DNS:api.apps.internal");
    const withUri = await inTempDir(async (dir, run) => {
      await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
      await run(["req", "-new", "-key", "k.pem", "-subj", `/CN=${ID.instanceGuid}`, "-addext", `subjectAltName=DNS:API.apps.internal,URI:${URI}`, "-out", "c.pem"]);
      return readFile(join(dir, "c.pem"), "utf8");
    });
    expect(signInstanceCsr(issuer, withUri, ID).certificatePem).toMatch(/BEGIN CERTIFICATE/);
  });

  it("refuse a CSR that asks for a foreign CN, DNS name, IP, URI or subject attribute", async () => {
    const foreignCn = await generateKeyAndCsr({ commonName: "someone-else" });
    expect(refusal(() => signInstanceCsr(issuer, foreignCn.csrPem, ID))).toBe(
      `CSR refused: CN "someone-else" does not match instance ${ID.instanceGuid}; it must be "${ID.instanceGuid}"`,
    );
    const foreignDns = await generateKeyAndCsr({ commonName: ID.instanceGuid, dnsNames: ["backend.apps.internal", "bank.apps.internal"] });
    expect(refusal(() => signInstanceCsr(issuer, foreignDns.csrPem, ID))).toBe(
      `CSR refused: DNS name "bank.apps.internal" is not allowed for instance ${ID.instanceGuid}`,
    );
    const viaOpenssl = (subj: string, san: string): Promise<string> =>
      inTempDir(async (dir, run) => {
        await run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "k.pem"]);
        await run(["req", "-new", "-key", "k.pem", "-subj", subj, "-addext", `subjectAltName=${san}`, "-out", "c.pem"]);
        return readFile(join(dir, "c.pem"), "utf8");
      });
    expect(refusal(() => signInstanceCsr(issuer, "", ID))).toMatch(/CSR is not PEM/);
    const ip = await viaOpenssl(`/CN=${ID.instanceGuid}`, "IP:10.255.1.5");
    expect(refusal(() => signInstanceCsr(issuer, ip, ID))).toBe(`CSR refused: IP address "10.255.1.5" is not allowed for instance ${ID.instanceGuid}`);
    const uri = await viaOpenssl(`/CN=${ID.instanceGuid}`, "URI:spiffe://weft/org/x/space/y/app/z/instance/w");
    expect(refusal(() => signInstanceCsr(issuer, uri, ID))).toMatch(/URI "spiffe:\/\/weft\/org\/x\/space\/y\/app\/z\/instance\/w" is not allowed/);
    const org = await viaOpenssl(`/O=acme/CN=${ID.instanceGuid}`, `DNS:${ID.instanceGuid}`);
    expect(refusal(() => signInstanceCsr(issuer, org, ID))).toMatch(/subject attribute O=acme is not allowed/);
    const ou = await viaOpenssl(`/OU=app:other/CN=${ID.instanceGuid}`, `DNS:${ID.instanceGuid}`);
    expect(refusal(() => signInstanceCsr(issuer, ou, ID))).toMatch(/subject attribute OU=app:other is not allowed/);
  });

  it("re-issue from the stored public key with changed routes, without a CSR", async () => {
    const { csrPem, privateKeyPem } = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    const first = signInstanceCsr(issuer, csrPem, ID);
    const again = issueInstanceCert(issuer, first.publicKeyPem, { ...ID, routes: ["backend.apps.internal", "new.apps.internal"] }, { validityMs: 3_600_000 });
    const leaf = certs(again.certificatePem)[0]!;
    expect(leaf.subjectAltName).toBe(`DNS:${ID.instanceGuid}, DNS:backend.apps.internal, DNS:new.apps.internal, URI:${URI}`);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
    expect(again.serialNumber).not.toBe(first.serialNumber);
    expect(again.notAfter - Date.now()).toBeLessThanOrEqual(3_600_000);
    expect(again.notAfter - Date.now()).toBeGreaterThan(3_590_000);
    expect(leaf.checkPrivateKey((await import("node:crypto")).createPrivateKey(privateKeyPem))).toBe(true);
    expect((await opensslVerify(root.certPem, again.certificatePem, { hostname: "new.apps.internal" })).ok).toBe(true);
    expect(refusal(() => issueInstanceCert(issuer, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", ID))).toMatch(/^instance public key is malformed/);
    // The same key can sign a renewal CSR (common/csr.ts).
    expect(signInstanceCsr(issuer, await createCsrPem(privateKeyPem, { commonName: ID.instanceGuid }), ID).publicKeyPem).toBe(first.publicKeyPem);
  });

  it("refuse identities that cannot be names", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    expect(refusal(() => signInstanceCsr(issuer, csrPem, { ...ID, routes: ["not a name"] }))).toBe('route "not a name" is not a valid DNS name');
    expect(refusal(() => workloadUri({ ...ID, appGuid: "../x" }))).toMatch(/app GUID "..\/x" may only contain/);
    expect(refusal(() => workloadUri(ID, "Bad Domain"))).toMatch(/trust domain/);
    expect(workloadUri(ID, "prod.example")).toBe(URI.replace("spiffe://weft/", "spiffe://prod.example/"));
  });

  it("never outlive the root, and accept RSA 2048 keys", async () => {
    const shortRoot = await createRootCa({ validityYears: 1 });
    const shortIssuer = new CertificateIssuer(shortRoot);
    const rsaCsr = await inTempDir(async (dir, run) => {
      await run(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "k.pem"]);
      await run(["req", "-new", "-key", "k.pem", "-subj", `/CN=${ID.instanceGuid}`, "-out", "c.pem"]);
      return readFile(join(dir, "c.pem"), "utf8");
    });
    const issued = signInstanceCsr(shortIssuer, rsaCsr, ID, { validityMs: 3 * 365 * 86_400_000 });
    expect(issued.notAfter).toBeLessThanOrEqual(shortIssuer.root.notAfter);
    expect((await opensslVerify(shortRoot.certPem, issued.certificatePem, { purpose: "sslserver" })).ok).toBe(true);
  });

  it("can be signed by an operator's RSA root", async () => {
    const rsaRoot = await inTempDir(async (dir, run) => {
      await run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "30", "-subj", "/O=Operator/CN=Operator Root",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
      return { certPem: await readFile(join(dir, "c.pem"), "utf8"), keyPem: await readFile(join(dir, "k.pem"), "utf8") };
    });
    const { csrPem } = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    const issued = signInstanceCsr(new CertificateIssuer(rsaRoot), csrPem, ID);
    const r = await opensslVerify(rsaRoot.certPem, issued.certificatePem, { hostname: "api.apps.internal" });
    expect(r.output).toMatch(/: OK/);
    expect(certs(issued.certificatePem)[0]!.issuer).toBe("O=Operator\nCN=Operator Root");
  });
});
