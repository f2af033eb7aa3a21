// Who may talk to the gRPC plane: only cells with a current certificate from the platform CA.
// A certificate from another CA fails the TLS handshake; a superseded one (stolen after a renewal)
// is refused; hostile or malformed messages get a clear status and the server keeps serving.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateKeyAndCsr } from "../../common/csr.js";
import { selfSignedServerCert } from "../../common/x509.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { ControlClient, instance, joinCell, joinSimAgent, joinToken } from "../../test/support/plane.js";
import type { SimAgent } from "../../test/support/sim-agent.js";

describe("gRPC plane security and hostile input", () => {
  let api: TestControl;
  let a: SimAgent;
  let subnet = "";

  beforeAll(async () => {
    api = await startTestControl("postgres");
    a = await joinSimAgent(api, "cell-a", "10.0.0.1");
    subnet = (await a.client.acquireLease("10.0.0.1")).overlaySubnet;
    await api.control.plane.feed.waitFor(await api.control.store.revision());
  });

  afterAll(async () => {
    a?.close();
    await api?.stop();
  });

  it("refuses a client certificate from another CA", async () => {
    const foreign = await selfSignedServerCert({ commonName: "cell-a", dnsNames: ["cell-a"], ips: [], days: 1 });
    const client = new ControlClient({ ...a.creds, certificatePem: foreign.certPem, keyPem: foreign.keyPem }, { deadlineMs: 3000 });
    try {
      const err = await client.acquireLease("10.0.0.1").then(
        () => undefined,
        (e: { code: string }) => e,
      );
      // The TLS handshake fails, so the call never reaches the service.
      expect(err?.code).toMatch(/STORE_UNAVAILABLE|UNAUTHENTICATED|INTERNAL/);
    } finally {
      client.close();
    }
  });

  it("refuses a superseded certificate after two renewals, and accepts the current ones", async () => {
    const r = await joinSimAgent(api, "cell-r", "10.0.0.9");
    const original = r.creds;
    const { privateKeyPem, csrPem } = await generateKeyAndCsr({ commonName: "cell-r" });
    const renewed = await r.client.renewCellCertificate(csrPem);
    r.close();
    const second = { ...original, certificatePem: renewed.certificatePem, keyPem: privateKeyPem };
    const secondClient = new ControlClient(second);
    // One renewal keeps the previous certificate valid (overlap); a second one retires it.
    const third = await secondClient.renewCellCertificate((await generateKeyAndCsr({ commonName: "cell-r" })).csrPem);
    expect(third.cellId).toBe("cell-r");
    await expect(secondClient.acquireLease("10.0.0.9")).resolves.toMatchObject({ cellId: "cell-r" });
    secondClient.close();
    // The original certificate is now two renewals old: refused.
    const stale = new ControlClient(original, { deadlineMs: 3000 });
    try {
      await expect(stale.acquireLease("10.0.0.9")).rejects.toMatchObject({ code: "UNAUTHENTICATED" });
    } finally {
      stale.close();
    }
  });

  it("refuses a join with a used, unknown or wrong-cell token", async () => {
    const token = await joinToken(api, "cell-z");
    await expect(joinCell({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token, cellId: "cell-y" })).rejects.toThrow(/403|for cell cell-z/);
    const once = await joinToken(api);
    await joinCell({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token: once, cellId: "cell-q" });
    await expect(joinCell({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token: once, cellId: "cell-q" })).rejects.toThrow(/401/);
    await expect(joinCell({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token: "0123456789abcdef.nope", cellId: "cell-q" })).rejects.toThrow(/401/);
  });

  it("answers malformed and hostile messages with a clear status and keeps serving", async () => {
    const ip = subnet.replace(/\.0\/24$/, ".7");
    const bad = [
      { ...instance("", "app", ip) },
      { ...instance("i-1", "app", "not-an-ip") },
      { ...instance("i-1", "app", "192.168.1.1") },
      { ...instance("i-1", "app\u0000x", ip) },
      { ...instance("i-1", "a".repeat(300), ip) },
      { ...instance("i-1", "app", ip), ports: Array.from({ length: 5000 }, (_, i) => i + 1) },
      { ...instance("i-1", "app", ip), ports: [0] },
      { ...instance("i-1", "app", ip), lifecycle: "zombie" },
    ];
    for (const inst of bad) {
      await expect(a.client.registerInstance(inst)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    }
    await expect(a.client.acquireLease("999.1.1.1")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await expect(a.client.renewLease({ underlayIp: "10.0.0.1", overlaySubnet: "10.1.0.0/24", vtepMac: "", cellId: "", expiresAt: 0 })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    // A message over the 1 MiB cap is refused before it is parsed.
    await expect(a.client.signInstanceCertificate("i-1", "x".repeat(2 * 1024 * 1024))).rejects.toMatchObject({ code: "QUOTA_EXCEEDED" });
    const gone = await a.client.deregisterInstance("never-registered");
    expect(typeof gone.revision).toBe("number");
    // Still serving.
    const ok = await a.client.registerInstance(instance("i-ok", "app-ok", ip), "ok");
    expect(ok.revision).toBeGreaterThan(0);
  });
});
