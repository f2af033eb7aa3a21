// The control plane's own server certificate: CN weft-control, the given DNS names and IPs, server
// and client auth, its key made on the spot and returned with it.
import { X509Certificate, createPrivateKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isWeftError } from "../../common/errors.js";
import { certs, opensslVerify } from "./ca-testing.js";
import { CertificateIssuer } from "./certificate-issuer.js";
import { issueControlServerCert } from "./control-certificate.js";
import { createRootCa } from "./root-ca.js";

describe("control server certificate", () => {
  it("carries the given names and IPs and its own key", async () => {
    const root = await createRootCa();
    const issuer = new CertificateIssuer(root);
    const issued = issueControlServerCert(issuer, { dnsNames: ["control.weft.internal", "localhost"], ips: ["127.0.0.1", "::1", "::ffff:10.0.0.9"] });
    const leaf = certs(issued.certificatePem)[0]!;
    expect(leaf.subject).toBe("CN=weft-control");
    expect(leaf.subjectAltName).toBe("DNS:control.weft.internal, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:A00:9");
    expect(leaf.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]);
    expect(leaf.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(new X509Certificate(root.certPem).checkIssued(leaf)).toBe(false);
    expect(leaf.checkIssued(new X509Certificate(root.certPem))).toBe(true);
    expect((await opensslVerify(root.certPem, issued.certificatePem, { purpose: "sslserver", hostname: "control.weft.internal" })).ok).toBe(true);
    expect(issued.notAfter - Date.now()).toBeGreaterThan(89 * 86_400_000);
  });

  it("needs at least one valid name", async () => {
    const issuer = new CertificateIssuer(await createRootCa());
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return isWeftError(err) ? `${err.code}: ${err.message}` : String(err);
      }
      return undefined;
    };
    expect(code(() => issueControlServerCert(issuer, { dnsNames: [], ips: [] }))).toMatch(/^INVALID_ARGUMENT: .*at least one DNS name or IP/);
    expect(code(() => issueControlServerCert(issuer, { dnsNames: [], ips: ["300.1.1.1"] }))).toBe("INVALID_ARGUMENT: not an IP address: 300.1.1.1");
  });
});
