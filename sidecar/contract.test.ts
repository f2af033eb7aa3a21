// The local channel as the agent uses it (common/sidecar-contract.ts): files written atomically,
// generations, waiting until served, refusals (port 61443), the app's files and environment,
// removal, a sidecar restart that serves everything again from the files alone, and health.
import { readFile, readdir, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { silentLogger } from "../common/logger.js";
import {
  INSTANCE_FILES,
  SIDECAR_PORT,
  channelPaths,
  instanceEnvironment,
  readSidecarStatus,
  waitSidecarServing,
  writeSidecarContainer,
} from "../common/sidecar-contract.js";
import { startSidecar } from "./main.js";
import { connectTls, echoWithBye, readAll, startApp, startHarness, type Harness, type TestApp } from "./testing/harness.js";
import { createTestRoot, issueInstance, type IssuedCredentials, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";

describe("the agent-sidecar channel", () => {
  let root: TestRoot;
  let creds: IssuedCredentials;
  let h: Harness;
  let app: TestApp;
  beforeAll(async () => {
    root = await createTestRoot();
    creds = await issueInstance(root);
    h = await startHarness({ opsPort: 0 });
    app = await startApp(echoWithBye);
  });
  afterAll(async () => {
    await h?.stop();
    await app?.close();
  });

  const spec = (guid: string, extra: object = {}) => ({ instanceGuid: guid, netnsPath: "/proc/self/ns/net", containerIp: "127.0.0.1", appPort: app.port, credentials: creds, ...extra });

  it("numbers writes by generation and reports each one served", async () => {
    const g1 = await writeSidecarContainer(h.dir, spec("gen"));
    expect(g1).toBe(1);
    expect(await waitSidecarServing(h.dir, "gen", g1, { timeoutMs: 10_000 })).toMatchObject({ state: "serving", generation: 1, serialNumber: creds.serialNumber.toUpperCase() });
    const next = await issueInstance(root, undefined, { keyPem: creds.keyPem });
    const g2 = await writeSidecarContainer(h.dir, spec("gen", { credentials: next }));
    expect(g2).toBe(2);
    const s = await waitSidecarServing(h.dir, "gen", g2, { timeoutMs: 10_000 });
    expect(s.serialNumber?.toLowerCase()).toBe(next.serialNumber.toLowerCase());
    // The container file is private; nothing but whole files is ever left in the directory.
    expect((await readdir(channelPaths(h.dir).containers)).filter((f) => f.startsWith("gen"))).toEqual(["gen.json"]);
  });

  it("refuses port 61443 for the app, on both sides", async () => {
    await expect(writeSidecarContainer(h.dir, spec("p61443", { appPort: SIDECAR_PORT }))).rejects.toThrow(/reserved for container networking/);
    // A file written by something else is refused by the sidecar too, and nothing listens for it.
    const file = { schema: 1, generation: 1, ...spec("p61443", { appPort: SIDECAR_PORT }) };
    await writeFile(channelPaths(h.dir).container("p61443"), JSON.stringify(file), { mode: 0o600 });
    await expect(waitSidecarServing(h.dir, "p61443", 1, { timeoutMs: 10_000 })).rejects.toThrow(/reserved for container networking/);
    expect(h.sidecar.containers.portOf("p61443")).toBeUndefined();
  });

  it("gives the app its certificate, key and CA bundle as files swapped together, and CF's environment", async () => {
    await writeSidecarContainer(h.dir, spec("files"));
    const dir = channelPaths(h.dir).instance("files");
    const read = (f: string) => readFile(join(dir, f), "utf8");
    expect(await read(INSTANCE_FILES.cert)).toBe(creds.certificateChainPem);
    expect(await read(INSTANCE_FILES.key)).toBe(creds.keyPem);
    expect(await read(INSTANCE_FILES.ca)).toBe(creds.caBundlePem);
    expect(await readlink(join(dir, INSTANCE_FILES.cert))).toBe(`..data/${INSTANCE_FILES.cert}`);
    const next = await issueInstance(root);
    await writeSidecarContainer(h.dir, spec("files", { credentials: next }));
    expect(await read(INSTANCE_FILES.cert)).toBe(next.certificateChainPem);
    expect(await read(INSTANCE_FILES.key)).toBe(next.keyPem);
    expect((await readdir(dir)).filter((f) => f.startsWith("..")).sort()).toHaveLength(2); // ..data and one version
    expect(instanceEnvironment({ containerIp: "10.255.3.7" })).toEqual({
      CF_INSTANCE_CERT: "/etc/cf-instance-credentials/instance.crt",
      CF_INSTANCE_KEY: "/etc/cf-instance-credentials/instance.key",
      CF_INSTANCE_INTERNAL_IP: "10.255.3.7",
      WEFT_INSTANCE_CA_BUNDLE: "/etc/cf-instance-credentials/ca.crt",
      NODE_EXTRA_CA_CERTS: "/etc/cf-instance-credentials/ca.crt",
    });
  });

  it("serves every container again after a restart, from the files alone", async () => {
    const port = await h.put({ guid: "restart", credentials: creds, appPort: app.port });
    expect(port).toBeGreaterThan(0);
    const again = await startSidecar(
      { mode: { kind: "shared" }, channelDir: h.dir, listenPort: 0, listenHost: "127.0.0.1", limits: { handshakeTimeoutMs: 5000, idleTimeoutMs: 60_000, connectTimeoutMs: 1000, maxConnections: 100, maxPendingHandshakes: 10 }, netns: { nsenterPath: "nsenter", concurrency: 1, timeoutMs: 1000 } },
      silentLogger,
      { listenerFor: () => Promise.resolve({ host: "127.0.0.1", port: 0 }) },
    );
    try {
      const p = again.containers.portOf("restart");
      expect(p).toBeDefined();
      const s = await connectTls({ port: p!, ca: root.root.certPem, servername: NAME });
      s.end("again");
      expect((await readAll(s)).toString()).toBe("againbye");
    } finally {
      await again.stop();
    }
  });

  it("reports health and metrics, and removes a container's status with it", async () => {
    const ops = `http://127.0.0.1:${h.sidecar.opsPort}`;
    const health = await fetch(`${ops}/health`);
    // p61443 above was refused: health says which container and why.
    expect(health.status).toBe(503);
    expect(JSON.stringify(await health.json())).toMatch(/container:p61443.*reserved/);
    await h.remove("p61443");
    await eventually(async () => expect((await fetch(`${ops}/health`)).status).toBe(200));
    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/weft_sidecar_containers\{component="sidecar"\} \d+/);
    expect(metrics).toMatch(/weft_sidecar_certificate_rotations_total\{component="sidecar"\} [1-9]/);
    await h.remove("gen");
    await eventually(async () => expect(await readSidecarStatus(h.dir, "gen")).toBeUndefined());
  });
});
