// Certificate rotation without a restart: a leaf re-issue and a CA rotation (old and new roots both
// trusted until every leaf is re-issued, then the old one retired). A long-lived connection keeps
// carrying traffic throughout, every handshake made during the rotations succeeds, and a new
// handshake presents the new certificate as soon as the sidecar reports it served.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TLSSocket } from "node:tls";
import { connectTls, echoWithBye, readBytes, startApp, startHarness, type Harness, type TestApp } from "./testing/harness.js";
import { TEST_IDENTITY, createTestRoot, issueInstance, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";

describe("rotation", () => {
  let oldRoot: TestRoot;
  let newRoot: TestRoot;
  let h: Harness;
  let app: TestApp;
  beforeAll(async () => {
    oldRoot = await createTestRoot();
    newRoot = await createTestRoot();
    h = await startHarness();
    app = await startApp(echoWithBye);
  });
  afterAll(async () => {
    await h?.stop();
    await app?.close();
  });

  it("keeps a busy connection and every concurrent handshake through a leaf rotation and a CA rotation", async () => {
    const first = await issueInstance(oldRoot);
    const port = await h.put({ credentials: first, appPort: app.port });
    const overlap = newRoot.root.certPem + oldRoot.root.certPem;

    // A long-lived connection with a request/response loop running through every rotation.
    const longLived: TLSSocket = await connectTls({ port, ca: overlap, servername: NAME });
    let exchanges = 0;
    let stopTraffic = false;
    const traffic = (async () => {
      while (!stopTraffic) {
        const msg = `ping-${exchanges}|`;
        longLived.write(msg);
        expect((await readBytes(longLived, msg.length)).toString()).toBe(msg);
        exchanges++;
      }
    })();

    // Clients that keep making new handshakes, trusting the overlap bundle, and record the serials.
    const seen: string[] = [];
    const failures: unknown[] = [];
    let stopHandshakes = false;
    const handshaker = async () => {
      while (!stopHandshakes) {
        try {
          const s = await connectTls({ port, ca: overlap, servername: NAME });
          seen.push(s.getPeerX509Certificate()!.serialNumber.toLowerCase());
          s.destroy();
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const handshakers = [handshaker(), handshaker(), handshaker()];
    const newest = async () => {
      const s = await connectTls({ port, ca: overlap, servername: NAME });
      const serial = s.getPeerX509Certificate()!.serialNumber.toLowerCase();
      s.destroy();
      return serial;
    };
    const progress = async () => {
      const [e, n] = [exchanges, seen.length];
      while (exchanges < e + 5 || seen.length < n + 5) await new Promise((r) => setImmediate(r));
    };

    await progress();
    // 1. Leaf re-issued (same key, as control does for a route change or before expiry).
    const reissued = await issueInstance(oldRoot, TEST_IDENTITY, { keyPem: first.keyPem });
    await h.put({ credentials: reissued, appPort: app.port });
    expect(await newest()).toBe(reissued.serialNumber.toLowerCase());
    await progress();
    // 2. CA rotation begins: both roots in the bundle, the leaf still from the old root.
    await h.put({ credentials: { ...reissued, caBundlePem: overlap }, appPort: app.port });
    await progress();
    // 3. Leaf re-issued by the new root.
    const fromNew = await issueInstance(newRoot, TEST_IDENTITY, { keyPem: first.keyPem, bundle: overlap });
    await h.put({ credentials: fromNew, appPort: app.port });
    expect(await newest()).toBe(fromNew.serialNumber.toLowerCase());
    await progress();
    // 4. The old root is retired.
    await h.put({ credentials: { ...fromNew, caBundlePem: newRoot.root.certPem }, appPort: app.port });
    await progress();

    stopHandshakes = true;
    await Promise.all(handshakers);
    stopTraffic = true;
    await traffic;

    expect(failures).toEqual([]);
    expect(new Set(seen)).toEqual(new Set([first, reissued, fromNew].map((c) => c.serialNumber.toLowerCase())));
    // The long-lived connection still has the certificate it started with, and still works.
    expect(longLived.getPeerX509Certificate()!.serialNumber.toLowerCase()).toBe(first.serialNumber.toLowerCase());
    longLived.write("still here");
    expect((await readBytes(longLived, 10)).toString()).toBe("still here");
    longLived.destroy();
    // A client that trusts only the new root now verifies; one that trusts only the old does not.
    await expect(connectTls({ port, ca: newRoot.root.certPem, servername: NAME }).then((s) => void s.destroy())).resolves.toBeUndefined();
    await expect(connectTls({ port, ca: oldRoot.root.certPem, servername: NAME })).rejects.toThrow();
  });

  it("refuses credentials that do not fit and keeps serving the previous ones", async () => {
    const guid = "rotation-refused";
    const good = await issueInstance(oldRoot);
    const port = await h.put({ guid, credentials: good, appPort: app.port });
    const other = await issueInstance(oldRoot);
    const stranger = await createTestRoot();
    const bad = [
      { credentials: { ...good, keyPem: other.keyPem }, why: /does not match/ },
      { credentials: { ...good, caBundlePem: stranger.root.certPem }, why: /not issued by a root in the CA bundle/ },
      { credentials: { ...good, certificateChainPem: "junk" }, why: /no certificate/ },
    ];
    for (const b of bad) await expect(h.put({ guid, credentials: b.credentials, appPort: app.port })).rejects.toThrow(b.why);
    const s = await connectTls({ port, ca: oldRoot.root.certPem, servername: NAME });
    expect(s.getPeerX509Certificate()!.serialNumber.toLowerCase()).toBe(good.serialNumber.toLowerCase());
    s.destroy();
  });
});
