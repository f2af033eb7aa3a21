// Container certificates through the stream: a cell gets a certificate only for its own
// registered instances, with the app's routes as SANs; a route change re-issues it from the stored
// public key and pushes it to the cell; a CSR naming foreign names is refused.
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { generateKeyAndCsr } from "../../common/csr.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { instance, joinSimAgent } from "../../test/support/plane.js";
import type { SimAgent } from "../../test/support/sim-agent.js";

describe("container certificates", () => {
  let api: TestControl;
  let a: SimAgent;
  let b: SimAgent;
  let ipA = "";

  beforeAll(async () => {
    api = await startTestControl("postgres");
    a = await joinSimAgent(api, "cell-a", "10.0.0.1");
    b = await joinSimAgent(api, "cell-b", "10.0.0.2");
    const subnet = (await a.client.acquireLease("10.0.0.1")).overlaySubnet;
    await b.client.acquireLease("10.0.0.2");
    ipA = subnet.replace(/\.0\/24$/, ".5");
    await api.control.plane.feed.waitFor(await api.control.store.revision());
    await a.client.registerInstance(instance("inst-1", "app-1", ipA), "backend");
    await api.request("PUT", "/weft/v1/routes/backend.apps.internal", { body: { app_guid: "app-1" } });
    a.startSync();
  });

  afterAll(async () => {
    a?.close();
    b?.close();
    await api?.stop();
  });

  it("signs a CSR for an instance registered on the calling cell, with routes as SANs", async () => {
    await eventually(() => expect(api.control.plane.feed.state.routesByApp.get("app-1")?.size).toBe(1));
    const { csrPem } = await generateKeyAndCsr({ commonName: "inst-1" });
    const cert = await a.client.signInstanceCertificate("inst-1", csrPem);
    const leaf = new X509Certificate(cert.certificatePem);
    expect(leaf.subject).toContain("CN=inst-1");
    expect(leaf.subject).toMatch(/OU=app:app-1/);
    expect(leaf.subjectAltName).toContain("DNS:inst-1");
    expect(leaf.subjectAltName).toContain("DNS:backend.apps.internal");
    expect(leaf.subjectAltName).not.toContain("IP Address");
    expect(cert.caBundlePem).toContain("BEGIN CERTIFICATE");
    expect(cert.notAfter - Date.now()).toBeGreaterThan(23 * 3_600_000);
  });

  it("refuses a CSR for an instance of another cell, and a CSR with foreign names", async () => {
    const { csrPem } = await generateKeyAndCsr({ commonName: "inst-1" });
    await expect(b.client.signInstanceCertificate("inst-1", csrPem)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(b.client.signInstanceCertificate("no-such-instance", csrPem)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const foreign = await generateKeyAndCsr({ commonName: "inst-1", dnsNames: ["evil.example.com"] });
    await expect(a.client.signInstanceCertificate("inst-1", foreign.csrPem)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    const otherCn = await generateKeyAndCsr({ commonName: "someone-else" });
    await expect(a.client.signInstanceCertificate("inst-1", otherCn.csrPem)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(a.client.signInstanceCertificate("inst-1", "not a csr")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("re-issues and pushes the certificate when the app's routes change", async () => {
    const before = a.certificates.length;
    const res = await api.request("PUT", "/weft/v1/routes/api.apps.internal", { body: { app_guid: "app-1" } });
    expect(res.status).toBe(200);
    await eventually(() => expect(a.certificates.length).toBeGreaterThan(before));
    const pushed = a.certificates.at(-1)!;
    expect(pushed.instanceGuid).toBe("inst-1");
    const san = new X509Certificate(pushed.certificatePem).subjectAltName ?? "";
    expect(san).toContain("DNS:api.apps.internal");
    expect(san).toContain("DNS:backend.apps.internal");
  });
});
