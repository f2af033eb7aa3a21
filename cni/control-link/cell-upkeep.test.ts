// A cell keeps its standing with control on its own: the lease and the cell certificate are
// renewed before they run out (the client keeps reaching control past the first certificate's
// expiry), a trust bundle from control replaces the cell's, and control follows a CA rotation
// (cells with certificates from the new root are accepted at once; control's own certificate
// stays verifiable by cells that have not seen the new bundle yet).
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadCellCredentials, saveCellCredentials, type CellCredentials } from "../../common/cell-credentials.js";
import { certificateValidity } from "../../common/certificate-validity.js";
import { eventually } from "../../common/eventually.js";
import { silentLogger } from "../../common/logger.js";
import { selfSignedServerCert } from "../../common/x509.js";
import type * as pb from "../../proto/types.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { joinToken } from "../../test/support/plane.js";
import { CellUpkeep, type UpkeepClient } from "./cell-upkeep.js";
import { ControlClient } from "./control-client.js";
import { joinCell } from "./join.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "weft-upkeep-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function join1(api: TestControl, cellId: string): Promise<CellCredentials> {
  return joinCell({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token: await joinToken(api), cellId });
}

/** The issuer subject of the certificate control's gRPC listener presents. */
function grpcServerIssuer(port: number, caBundlePem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ca: caBundlePem, servername: "localhost", ALPNProtocols: ["h2"] }, () => {
      const issuer = new X509Certificate(s.getPeerX509Certificate()!.raw).issuer;
      s.destroy();
      resolve(issuer);
    });
    s.once("error", reject);
  });
}

describe("cell upkeep against a real control", () => {
  let api: TestControl;
  const stop: (() => void)[] = [];

  beforeAll(async () => {
    // Certificates and leases that live seconds, so renewals happen within the test.
    api = await startTestControl("postgres", { cellCertValidityMs: 3000, leaseTtlMs: 3000 });
  });
  afterEach(() => {
    for (const f of stop.splice(0)) f();
  });
  afterAll(async () => {
    await api?.stop();
  });

  it("renews the lease and the certificate before they run out, and keeps reaching control past the first certificate's expiry", async () => {
    const creds = await join1(api, "cell-u");
    const dir = tempDir();
    saveCellCredentials(dir, creds);
    const client = new ControlClient(creds, { deadlineMs: 3000 });
    const upkeep = new CellUpkeep({ client, credentialsDir: dir, credentials: creds, logger: silentLogger, minWaitMs: 200 });
    stop.push(() => upkeep.stop(), () => client.close());
    const lease = await client.acquireLease("10.0.0.5");
    upkeep.start(lease);

    const firstNotAfter = certificateValidity(creds.certificatePem).notAfter;
    await eventually(() => expect(loadCellCredentials(dir).certificatePem).not.toBe(creds.certificatePem), { timeoutMs: 10_000 });
    await eventually(
      async () => {
        const r = await api.control.store.db.query<{ expires_at: Date }>("SELECT expires_at FROM leases WHERE underlay_ip = '10.0.0.5'::inet");
        expect(new Date(r.rows[0]!.expires_at).getTime()).toBeGreaterThan(Number(lease.expiresAt));
      },
      { timeoutMs: 10_000 },
    );
    // Wait until the certificate the cell joined with has expired; the client still gets through.
    await eventually(() => expect(Date.now()).toBeGreaterThan(firstNotAfter + 500), { timeoutMs: 10_000, intervalMs: 100 });
    await expect(client.acquireLease("10.0.0.5")).resolves.toMatchObject({ cellId: "cell-u" });
    expect(upkeep.credentials.certificatePem).toBe(loadCellCredentials(dir).certificatePem);
    expect(certificateValidity(upkeep.credentials.certificatePem).notAfter).toBeGreaterThan(firstNotAfter);
    // The saved credentials are what a restarted agent or the DNS server would load: they work.
    const fresh = new ControlClient(loadCellCredentials(dir), { deadlineMs: 3000 });
    stop.push(() => fresh.close());
    await expect(fresh.acquireLease("10.0.0.5")).resolves.toMatchObject({ cellId: "cell-u" });
  });

  it("follows a CA rotation: new-root cells are accepted, control's certificate stays verifiable by old-bundle cells, and a new bundle reaches the cell", async () => {
    const plane = api.control.plane;
    const grpcPort = api.control.grpcPort;
    const before = await join1(api, "cell-old");
    const oldBundle = before.caBundlePem;
    const oldIssuer = await grpcServerIssuer(grpcPort, oldBundle);
    const rotated = await plane.ca.rotate();
    expect(rotated.fingerprint256).not.toBe(new X509Certificate(oldBundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/)![0]).fingerprint256);

    // A cell joining now gets a certificate from the new root; control's listener accepts it.
    const after = await join1(api, "cell-new");
    expect(new X509Certificate(after.certificatePem).issuer).not.toBe(new X509Certificate(before.certificatePem).issuer);
    const newClient = new ControlClient(after, { deadlineMs: 3000 });
    stop.push(() => newClient.close());
    await eventually(() => newClient.acquireLease("10.0.0.6"), { timeoutMs: 10_000, message: "a cell with a new-root certificate is served" });

    // A cell that still trusts only the old root can verify control and reconnect (to learn the bundle).
    expect(await grpcServerIssuer(grpcPort, oldBundle)).toBe(oldIssuer);
    const oldClient = new ControlClient(before, { deadlineMs: 3000 });
    stop.push(() => oldClient.close());
    await expect(oldClient.acquireLease("10.0.0.7")).resolves.toMatchObject({ cellId: "cell-old" });

    // Control's bundle now has both roots; the upkeep of the old cell adopts it and saves it.
    const dir = tempDir();
    saveCellCredentials(dir, before);
    const upkeep = new CellUpkeep({ client: oldClient, credentialsDir: dir, credentials: before, logger: silentLogger });
    stop.push(() => upkeep.stop());
    upkeep.trustBundle(plane.ca.trustBundlePem());
    expect(loadCellCredentials(dir).caBundlePem).toBe(plane.ca.trustBundlePem());
    await expect(oldClient.acquireLease("10.0.0.7")).resolves.toMatchObject({ cellId: "cell-old" });

    // Once the previous root is retired, control presents a certificate from the new root.
    await plane.ca.retirePrevious();
    await eventually(async () => expect(await grpcServerIssuer(grpcPort, plane.ca.trustBundlePem())).not.toBe(oldIssuer), { timeoutMs: 10_000 });
    await expect(oldClient.acquireLease("10.0.0.7")).resolves.toMatchObject({ cellId: "cell-old" });
  });
});

describe("cell upkeep schedule", () => {
  it("renews a lease at a third of its lifetime and leaves a certificate alone until two thirds of its validity", async () => {
    const cert = await selfSignedServerCert({ commonName: "cell-s", dnsNames: ["cell-s"], ips: [], days: 1 });
    const creds: CellCredentials = { cellId: "cell-s", certificatePem: cert.certPem, keyPem: cert.keyPem, caBundlePem: cert.certPem, grpcEndpoint: "127.0.0.1:1" };
    const calls = { lease: 0, cert: 0, creds: 0 };
    const lifetime = 600;
    const client: UpkeepClient = {
      renewLease: (l: pb.Lease) => {
        calls.lease++;
        return Promise.resolve({ ...l, expiresAt: Date.now() + lifetime });
      },
      renewCellCertificate: () => {
        calls.cert++;
        return Promise.reject(new Error("not expected"));
      },
      useCredentials: () => {
        calls.creds++;
      },
    };
    const upkeep = new CellUpkeep({ client, credentialsDir: tempDir(), credentials: creds, logger: silentLogger, minWaitMs: 10 });
    try {
      upkeep.start({ underlayIp: "10.0.0.9", overlaySubnet: "10.255.9.0/24", vtepMac: "", cellId: "cell-s", expiresAt: Date.now() + lifetime });
      await eventually(() => expect(calls.lease).toBeGreaterThanOrEqual(3), { timeoutMs: 5000 });
      expect(calls.cert).toBe(0);
      expect(calls.creds).toBe(0);
      upkeep.trustBundle(creds.caBundlePem); // the same bundle: nothing to do
      expect(calls.creds).toBe(0);
    } finally {
      upkeep.stop();
    }
  });
});
