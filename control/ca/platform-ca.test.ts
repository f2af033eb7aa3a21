// The platform CA over both stores: the root created on first start and reused after, rotation
// with an overlap and retirement (checked with openssl and a real TLS handshake), replicas that
// converge by reloading on the change notification, and operator-given roots. On PostgreSQL also:
// four replicas starting at once end with one root, and concurrent rotations serialise.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateKeyAndCsr } from "../../common/csr.js";
import { eventually } from "../../common/eventually.js";
import { isWeftError } from "../../common/errors.js";
import { STORE_KINDS, openTestDb, type TestDb } from "../../test/support/db.js";
import type { Db } from "../store/db.js";
import { createPgDb } from "../store/pg-db.js";
import { Store } from "../store/store.js";
import { certs, handshake, inTempDir, opensslVerify } from "./ca-testing.js";
import type { IssuedCertificate } from "./certificate-issuer.js";
import type { InstanceIdentity } from "./instance-certificate.js";
import { PlatformCa } from "./platform-ca.js";
import type { PemPair } from "./root-ca.js";

const ID: InstanceIdentity = { instanceGuid: "inst-1", appGuid: "app-1", spaceGuid: "space-1", orgGuid: "org-1", routes: ["backend.apps.internal"] };

async function instanceCert(ca: PlatformCa): Promise<{ keyPem: string; issued: IssuedCertificate }> {
  const k = await generateKeyAndCsr({ commonName: ID.instanceGuid });
  return { keyPem: k.privateKeyPem, issued: ca.signInstanceCsr(k.csrPem, ID) };
}

async function rootStates(db: Db): Promise<string[]> {
  const res = await db.query<{ state: string }>("SELECT state FROM ca_roots ORDER BY id");
  return res.rows.map((r) => r.state);
}

async function caChanges(db: Db): Promise<number> {
  const res = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM weft_changes WHERE kind = 'ca'");
  return res.rows[0]!.n;
}

function operatorRoot(opts: { ca?: boolean } = {}): Promise<PemPair> {
  return inTempDir(async (dir, run) => {
    const ext = opts.ca === false ? ["-addext", "basicConstraints=critical,CA:FALSE"] : ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];
    await run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-days", "365", "-subj", "/CN=Operator Root", ...ext]);
    return { certPem: await readFile(join(dir, "c.pem"), "utf8"), keyPem: await readFile(join(dir, "k.pem"), "utf8") };
  });
}

describe.each(STORE_KINDS)("platform CA (%s store)", (kind) => {
  let t: TestDb;
  let store: Store;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new Store(t.db);
  });
  afterAll(async () => t?.drop());
  beforeEach(async () => {
    await t.db.query("DELETE FROM ca_roots");
    await t.db.query("DELETE FROM weft_changes WHERE kind = 'ca'");
  });

  it("creates a root on first start and reuses it on the next", async () => {
    const ca = await PlatformCa.open({ store });
    expect(await rootStates(t.db)).toEqual(["active"]);
    expect(await caChanges(t.db)).toBe(1);
    const [root, extra] = certs(ca.trustBundlePem());
    expect(extra).toBeUndefined();
    expect(root!.subject).toMatch(/^CN=Weft Platform CA \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(root!.ca).toBe(true);
    expect(root!.checkIssued(root!) && root!.verify(root!.publicKey)).toBe(true);
    expect(root!.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: "prime256v1" });
    const years = (Date.parse(root!.validTo) - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.99);
    expect(years).toBeLessThan(10.01);
    const text = await inTempDir(async (dir, run) => {
      await import("node:fs/promises").then((fs) => fs.writeFile(join(dir, "ca.pem"), ca.trustBundlePem()));
      return run(["x509", "-in", "ca.pem", "-noout", "-text"]);
    });
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(ca.activeRoot().subject).toBe(root!.subject);

    const again = await PlatformCa.open({ store });
    expect(again.activeRoot()).toEqual(ca.activeRoot());
    expect(await rootStates(t.db)).toEqual(["active"]);
    expect(await caChanges(t.db)).toBe(1);
    const { issued } = await instanceCert(again);
    expect((await opensslVerify(ca.trustBundlePem(), issued.certificatePem)).ok).toBe(true);
  });

  it("rotates with an overlap, then retires the previous root", async () => {
    const ca = await PlatformCa.open({ store });
    const first = ca.activeRoot();
    const old = await instanceCert(ca);
    const rotated = await ca.rotate();
    expect(rotated.id).not.toBe(first.id);
    expect(await rootStates(t.db)).toEqual(["previous", "active"]);
    const bundle = ca.trustBundlePem();
    expect(certs(bundle).map((c) => c.fingerprint256)).toEqual([rotated.fingerprint256, first.fingerprint256]);
    const fresh = await instanceCert(ca);
    expect(certs(fresh.issued.certificatePem)[1]!.fingerprint256).toBe(rotated.fingerprint256);
    for (const c of [old, fresh]) {
      expect((await opensslVerify(bundle, c.issued.certificatePem)).output).toMatch(/: OK/);
      const tls = await handshake({ server: { keyPem: c.keyPem, certPem: c.issued.certificatePem }, ca: bundle, servername: "backend.apps.internal" });
      expect(tls.ok).toBe(true);
    }
    // Re-issuing the old instance's key moves it to the new root.
    const moved = ca.issueInstanceCert(old.issued.publicKeyPem, ID);
    expect(certs(moved.certificatePem)[0]!.checkIssued(certs(bundle)[0]!)).toBe(true);

    expect(await ca.retirePrevious()).toBe(true);
    expect(await ca.retirePrevious()).toBe(false);
    expect(await rootStates(t.db)).toEqual(["retired", "active"]);
    const after = ca.trustBundlePem();
    expect(certs(after).map((c) => c.fingerprint256)).toEqual([rotated.fingerprint256]);
    expect((await opensslVerify(after, old.issued.certificatePem)).ok).toBe(false);
    expect((await opensslVerify(after, fresh.issued.certificatePem)).ok).toBe(true);
    const tls = await handshake({ server: { keyPem: old.keyPem, certPem: old.issued.certificatePem }, ca: after, servername: "backend.apps.internal" });
    expect(tls.ok).toBe(false);

    // A second rotation during an overlap retires the older previous root.
    await ca.rotate();
    await ca.rotate();
    expect(await rootStates(t.db)).toEqual(["retired", "retired", "previous", "active"]);
    expect(certs(ca.trustBundlePem())).toHaveLength(2);
    expect(await caChanges(t.db)).toBe(5);
  });

  it("lets replicas converge by reloading on the change notification", async () => {
    const other = kind === "postgres" ? createPgDb({ connectionString: t.url! }) : t.db;
    try {
      const a = await PlatformCa.open({ store });
      const b = await PlatformCa.open({ store: new Store(other) });
      expect(b.activeRoot()).toEqual(a.activeRoot());
      const unlisten = await other.listen("weft_changes", (payload) => {
        if ((JSON.parse(payload) as { kind: string }).kind === "ca") void b.reload();
      });
      try {
        await a.rotate();
        await eventually(() => expect(b.trustBundlePem()).toBe(a.trustBundlePem()));
        expect(b.activeRoot()).toEqual(a.activeRoot());
        const { issued } = await instanceCert(b);
        expect(certs(issued.certificatePem)[1]!.fingerprint256).toBe(a.activeRoot().fingerprint256);
        await a.retirePrevious();
        await eventually(() => expect(certs(b.trustBundlePem())).toHaveLength(1));
        expect(await b.reload()).toBe(false);
      } finally {
        await unlisten();
      }
    } finally {
      if (other !== t.db) await other.close();
    }
  });

  it("imports an operator root as the active one, keeping the stored one as previous", async () => {
    const generated = await PlatformCa.open({ store });
    const given = await operatorRoot();
    const ca = await PlatformCa.open({ store, operatorRoot: given });
    expect(ca.activeRoot().subject).toBe("CN=Operator Root");
    expect(certs(ca.trustBundlePem()).map((c) => c.subject)).toEqual(["CN=Operator Root", generated.activeRoot().subject]);
    expect(await rootStates(t.db)).toEqual(["previous", "active"]);
    // The same root given again, or no root given, changes nothing.
    await PlatformCa.open({ store, operatorRoot: { certPem: `\n${given.certPem}`, keyPem: given.keyPem } });
    expect((await PlatformCa.open({ store })).activeRoot().subject).toBe("CN=Operator Root");
    expect(await rootStates(t.db)).toEqual(["previous", "active"]);
    const { issued } = await instanceCert(ca);
    expect((await opensslVerify(given.certPem, issued.certificatePem, { hostname: "backend.apps.internal" })).output).toMatch(/: OK/);
  });

  it("refuses an operator root that is not a CA or whose key does not match", async () => {
    const leaf = await operatorRoot({ ca: false });
    const other = await operatorRoot();
    const refusal = async (root: PemPair): Promise<string> => {
      try {
        await PlatformCa.open({ store, operatorRoot: root });
      } catch (err) {
        if (!isWeftError(err, "INVALID_ARGUMENT")) throw err;
        return err.message;
      }
      throw new Error("not refused");
    };
    expect(await refusal(leaf)).toBe("CA root: CN=Operator Root is not a CA certificate (basicConstraints cA is false)");
    expect(await refusal({ certPem: other.certPem, keyPem: leaf.keyPem })).toBe("CA root: the private key does not belong to the certificate");
    expect(await refusal({ certPem: other.certPem + leaf.certPem, keyPem: other.keyPem })).toBe("CA root: expected exactly one certificate, found 2");
    expect(await rootStates(t.db)).toEqual([]);
  });
});

describe("platform CA replicas on one PostgreSQL", () => {
  let t: TestDb;
  const dbs: Db[] = [];
  beforeAll(async () => {
    t = await openTestDb("postgres");
    for (let i = 0; i < 4; i++) dbs.push(createPgDb({ connectionString: t.url! }));
  });
  afterAll(async () => {
    for (const d of dbs) await d.close();
    await t?.drop();
  });

  it("four replicas starting at once end with exactly one active root", async () => {
    for (let round = 0; round < 3; round++) {
      await t.db.query("DELETE FROM ca_roots");
      const cas = await Promise.all(dbs.map((db) => PlatformCa.open({ store: new Store(db) })));
      expect(new Set(cas.map((c) => c.activeRoot().fingerprint256)).size).toBe(1);
      expect(new Set(cas.map((c) => c.trustBundlePem())).size).toBe(1);
      expect(await rootStates(t.db)).toEqual(["active"]);
    }
  });

  it("serialises concurrent rotations", async () => {
    await t.db.query("DELETE FROM ca_roots");
    const cas = await Promise.all(dbs.map((db) => PlatformCa.open({ store: new Store(db) })));
    await Promise.all(cas.map((c) => c.rotate()));
    expect(await rootStates(t.db)).toEqual(["retired", "retired", "retired", "previous", "active"]);
    await Promise.all(cas.map((c) => c.reload()));
    expect(new Set(cas.map((c) => c.trustBundlePem())).size).toBe(1);
  });
});
