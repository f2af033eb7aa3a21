// Real TLS handshakes with issued certificates: a client trusting the bundle reaches an instance by
// any of its route names or its GUID, and fails for an IP address or a name the certificate does
// not carry; a cell authenticates to control with mutual TLS; the overlap of two roots works.
import { beforeAll, describe, expect, it } from "vitest";
import { generateKeyAndCsr } from "../../common/csr.js";
import { handshake } from "./ca-testing.js";
import { signCellCsr } from "./cell-certificate.js";
import { CertificateIssuer } from "./certificate-issuer.js";
import { issueControlServerCert } from "./control-certificate.js";
import { signInstanceCsr, type InstanceIdentity } from "./instance-certificate.js";
import { createRootCa, type PemPair } from "./root-ca.js";

const ID: InstanceIdentity = {
  instanceGuid: "0b1d7e52-3c4a-4e6f-8a9b-1c2d3e4f5a6b",
  appGuid: "backend-app",
  spaceGuid: "space-1",
  orgGuid: "org-1",
  routes: ["backend.apps.internal"],
};

describe("TLS handshakes with issued certificates", () => {
  let root: PemPair;
  let issuer: CertificateIssuer;
  let server: { keyPem: string; certPem: string };
  beforeAll(async () => {
    root = await createRootCa();
    issuer = new CertificateIssuer(root);
    const k = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    server = { keyPem: k.privateKeyPem, certPem: signInstanceCsr(issuer, k.csrPem, ID).certificatePem };
  });

  it("succeed for a route name and for the instance GUID", async () => {
    for (const servername of ["backend.apps.internal", "BACKEND.apps.internal", ID.instanceGuid]) {
      const r = await handshake({ server, ca: root.certPem, servername });
      expect(r).toMatchObject({ ok: true, peerSubjectCn: ID.instanceGuid });
    }
  });

  it("fail for an IP address and for a name not in the certificate", async () => {
    const byIp = await handshake({ server, ca: root.certPem });
    expect(byIp).toMatchObject({ ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    expect(byIp.ok === false && byIp.message).toMatch(/IP: 127\.0\.0\.1 is not in the cert's list/);
    const other = await handshake({ server, ca: root.certPem, servername: "frontend.apps.internal" });
    expect(other).toMatchObject({ ok: false, code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("fail for a client that does not trust the platform CA", async () => {
    const stranger = await createRootCa();
    const r = await handshake({ server, ca: stranger.certPem, servername: "backend.apps.internal" });
    // The server sends its chain (leaf + our root); the client trusts neither.
    expect(r).toMatchObject({ ok: false, code: "SELF_SIGNED_CERT_IN_CHAIN" });
  });

  it("authenticate a cell to control with mutual TLS", async () => {
    const control = issueControlServerCert(issuer, { dnsNames: ["localhost"], ips: ["127.0.0.1", "::1"] });
    const cellKey = await generateKeyAndCsr({ commonName: "cell-7", dnsNames: ["cell-7"] });
    const cell = { keyPem: cellKey.privateKeyPem, certPem: signCellCsr(issuer, cellKey.csrPem, "cell-7").certificatePem };
    const ok = await handshake({ server: { keyPem: control.keyPem, certPem: control.certificatePem }, serverCa: root.certPem, ca: root.certPem, client: cell });
    expect(ok).toMatchObject({ ok: true, peerSubjectCn: "weft-control", clientCn: "cell-7" });
    const named = await handshake({ server: { keyPem: control.keyPem, certPem: control.certificatePem }, serverCa: root.certPem, ca: root.certPem, client: cell, servername: "localhost" });
    expect(named.ok).toBe(true);
    // Without a client certificate the server refuses the handshake.
    const anonymous = await handshake({ server: { keyPem: control.keyPem, certPem: control.certificatePem }, serverCa: root.certPem, ca: root.certPem });
    expect(anonymous.ok).toBe(false);
  });

  it("keep working across a root rotation while both roots are trusted", async () => {
    const next = await createRootCa();
    const nextIssuer = new CertificateIssuer(next);
    const k = await generateKeyAndCsr({ commonName: ID.instanceGuid });
    const fresh = { keyPem: k.privateKeyPem, certPem: signInstanceCsr(nextIssuer, k.csrPem, ID).certificatePem };
    const overlap = next.certPem + root.certPem;
    expect((await handshake({ server, ca: overlap, servername: "backend.apps.internal" })).ok).toBe(true);
    expect((await handshake({ server: fresh, ca: overlap, servername: "backend.apps.internal" })).ok).toBe(true);
    expect((await handshake({ server, ca: next.certPem, servername: "backend.apps.internal" })).ok).toBe(false);
  });
});
