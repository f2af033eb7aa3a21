// Real handshakes against the sidecar, from Node and from `openssl s_client`: the chain verifies
// against the CA bundle, the certificate names the instance GUID and every route, an IP address
// does not verify, and the OU fields carry the org, space and app.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { echoWithBye, connectTls, readAll, startApp, startHarness, type Harness, type TestApp } from "./testing/harness.js";
import { TEST_IDENTITY, createTestRoot, issueInstance, type IssuedCredentials, type TestRoot } from "../test/support/test-pki.js";

function sClient(args: string[], input: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile("openssl", ["s_client", ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input);
  });
}

describe("handshakes with the sidecar", () => {
  let root: TestRoot;
  let creds: IssuedCredentials;
  let h: Harness;
  let app: TestApp;
  let port: number;
  let tmp: string;
  beforeAll(async () => {
    root = await createTestRoot();
    creds = await issueInstance(root);
    h = await startHarness();
    app = await startApp(echoWithBye);
    port = await h.put({ credentials: creds, appPort: app.port });
    tmp = await mkdtemp(join(tmpdir(), "weft-sclient-"));
    await writeFile(join(tmp, "ca.pem"), root.root.certPem);
  });
  afterAll(async () => {
    await h?.stop();
    await app?.close();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("verify from Node by every route and by the instance GUID, and carry bytes both ways", async () => {
    for (const servername of [...TEST_IDENTITY.routes, TEST_IDENTITY.instanceGuid]) {
      const s = await connectTls({ port, ca: root.root.certPem, servername });
      expect(s.authorized).toBe(true);
      const cert = s.getPeerX509Certificate()!;
      expect(cert.serialNumber.toLowerCase()).toBe(creds.serialNumber.toLowerCase());
      s.end(`hello via ${servername}`);
      expect((await readAll(s)).toString()).toBe(`hello via ${servername}bye`);
    }
  });

  it("present a certificate with the GUID and every route as DNS SANs, the workload URI and the OU fields", async () => {
    const s = await connectTls({ port, ca: root.root.certPem, servername: "backend.apps.internal" });
    const cert = s.getPeerX509Certificate()!;
    s.destroy();
    const sans = cert.subjectAltName!.split(", ");
    expect(sans).toEqual(expect.arrayContaining([`DNS:${TEST_IDENTITY.instanceGuid}`, ...TEST_IDENTITY.routes.map((r) => `DNS:${r}`)]));
    expect(sans.some((n) => n.startsWith("IP"))).toBe(false);
    expect(sans).toContain(`URI:spiffe://weft/org/${TEST_IDENTITY.orgGuid}/space/${TEST_IDENTITY.spaceGuid}/app/${TEST_IDENTITY.appGuid}/instance/${TEST_IDENTITY.instanceGuid}`);
    expect(cert.subject.split("\n")).toEqual([
      `OU=organization:${TEST_IDENTITY.orgGuid}`,
      `OU=space:${TEST_IDENTITY.spaceGuid}`,
      `OU=app:${TEST_IDENTITY.appGuid}`,
      `CN=${TEST_IDENTITY.instanceGuid}`,
    ]);
    expect(cert.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
  });

  it("do not verify for an IP address or a foreign name, nor for a client without the platform CA", async () => {
    await expect(connectTls({ port, ca: root.root.certPem })).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    await expect(connectTls({ port, ca: root.root.certPem, servername: "frontend.apps.internal" })).rejects.toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const stranger = await createTestRoot();
    await expect(connectTls({ port, ca: stranger.root.certPem, servername: "backend.apps.internal" })).rejects.toMatchObject({ code: "SELF_SIGNED_CERT_IN_CHAIN" });
  });

  it("verify from openssl s_client against the CA bundle, by route name but not by IP", async () => {
    const base = ["-connect", `127.0.0.1:${port}`, "-CAfile", join(tmp, "ca.pem"), "-verify_return_error", "-showcerts"];
    const ok = await sClient([...base, "-servername", "backend.apps.internal", "-verify_hostname", "backend.apps.internal"], "ping\n");
    expect(ok.out).toContain("Verify return code: 0 (ok)");
    expect(ok.out).toMatch(/subject=OU ?= ?organization:org-guid-1, ?OU ?= ?space:space-guid-1, ?OU ?= ?app:backend-app-guid, ?CN ?= ?6d1f6f0e/);
    expect(ok.out).toMatch(/Peer signature type: ECDSA/);
    expect(ok.out).toMatch(/Server public key is 256 bit/);
    const byIp = await sClient([...base, "-verify_ip", "127.0.0.1"], "ping\n");
    expect(byIp.code).not.toBe(0);
    expect(byIp.out).toMatch(/IP address mismatch/);
    const foreign = await sClient([...base, "-servername", "frontend.apps.internal", "-verify_hostname", "frontend.apps.internal"], "ping\n");
    expect(foreign.out).toMatch(/hostname mismatch/);
  });
});
