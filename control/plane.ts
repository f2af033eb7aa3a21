// The cell-facing half of control: the platform CA, the desired-state feed, the gRPC listener with
// its Sync and Watch streams, cell liveness for DNS, and what the REST API needs to join cells and
// report status. Built by main.ts after the store is migrated; stop() tears down in reverse.
import { X509Certificate } from "node:crypto";
import { hostname } from "node:os";
import type { Registry } from "prom-client";
import type { Logger } from "../common/logger.js";
import { certificateValidity } from "../common/certificate-validity.js";
import { errorMessage } from "../common/errors.js";
import { PlatformCa } from "./ca/platform-ca.js";
import { readRootFiles } from "./ca/root-ca.js";
import type { PlaneDeps } from "./api/deps.js";
import type { ControlConfig } from "./config.js";
import { createLeasePool } from "./leases/lease-pool.js";
import { StateFeed } from "./state/state-feed.js";
import { CellStore } from "./store/cell-store.js";
import { InstanceStore } from "./store/instance-store.js";
import { JoinTokenStore } from "./store/join-token-store.js";
import { LeaseStore } from "./store/lease-store.js";
import { RouteStore } from "./store/route-store.js";
import type { Store } from "./store/store.js";
import { CellAuthenticator } from "./stream/cell-auth.js";
import { CellHub } from "./stream/cell-hub.js";
import { CellLivenessTracker } from "./stream/cell-liveness.js";
import { CertificatePusher } from "./stream/certificate-pusher.js";
import { ControlTls, type ControlTlsMaterial } from "./stream/control-tls.js";
import { startGrpcServer } from "./stream/grpc-server.js";
import { platformSigner } from "./stream/platform-signer.js";

export interface RunningPlane {
  readonly deps: PlaneDeps;
  readonly feed: StateFeed;
  readonly ca: PlatformCa;
  readonly grpcPort: number;
  stop(): Promise<void>;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Whether a root in the bundle issued this certificate (its first PEM block). */
function issuedByBundle(certificatePem: string, bundlePem: string): boolean {
  const leaf = new X509Certificate(certificatePem.match(PEM_CERT)?.[0] ?? "");
  return (bundlePem.match(PEM_CERT) ?? []).some((r) => {
    const root = new X509Certificate(r);
    return leaf.checkIssued(root) && leaf.verify(root.publicKey);
  });
}

const pick = (c: { certificatePem: string; keyPem: string }) => ({ certificatePem: c.certificatePem, keyPem: c.keyPem });

export async function startPlane(config: ControlConfig, store: Store, log: Logger, registry: Registry): Promise<RunningPlane> {
  const ca = await PlatformCa.open({
    store,
    logger: log.child({ component: "ca" }),
    ...(config.caCertFile && config.caKeyFile ? { operatorRoot: readRootFiles(config.caCertFile, config.caKeyFile) } : {}),
  });
  const signer = platformSigner(ca, config.cellCertValidityMs !== undefined ? { cellCertValidityMs: config.cellCertValidityMs } : {});
  const feed = new StateFeed(store.db, log.child({ component: "state" }), undefined, store.localCreates);
  await feed.start();
  const cells = new CellStore(store.db);
  const pool = createLeasePool({ network: config.overlayNetwork, subnetPrefix: config.subnetPrefix });
  const leases = new LeaseStore(store, pool, config.leaseTtlMs);
  const instances = new InstanceStore(store);
  const auth = new CellAuthenticator(cells);
  const streamLog = log.child({ component: "stream" });
  const hub = new CellHub(feed, cells, () => ca.trustBundlePem(), streamLog, registry);

  const grpcLiveness: { fn?: (apps: ReadonlySet<string>) => void } = {};
  const liveness = new CellLivenessTracker(cells, config.cellGraceMs, (changed) => {
    const apps = new Set<string>();
    for (const c of changed) for (const a of feed.state.appsOnCell(c)) apps.add(a);
    grpcLiveness.fn?.(apps);
  }, streamLog);

  const names = [...new Set(["localhost", hostname(), ...(config.grpcNames ?? [])])];
  const isIp = (n: string) => /^[\d.]+$/.test(n) || n.includes(":");
  const issueServerCert = () =>
    ca.issueControlServerCert({
      dnsNames: names.filter((n) => !isIp(n)),
      ips: [...new Set(["127.0.0.1", ...names.filter(isIp), ...(config.grpcListen.host !== "0.0.0.0" && isIp(config.grpcListen.host) ? [config.grpcListen.host] : [])])],
    });
  const first = issueServerCert();
  const tls = new ControlTls({ caBundlePem: ca.trustBundlePem(), certificatePem: first.certificatePem, keyPem: first.keyPem });
  const caLog = log.child({ component: "ca" });
  /** New client roots at once; a new server certificate only when asked or when its root left the bundle. */
  const refreshTls = (reissue: boolean) => {
    const caBundlePem = ca.trustBundlePem();
    const renew = reissue || !issuedByBundle(tls.current.certificatePem, caBundlePem);
    const next: ControlTlsMaterial = renew ? { caBundlePem, ...pick(issueServerCert()) } : { ...tls.current, caBundlePem };
    if (next.caBundlePem === tls.current.caBundlePem && !renew) return;
    tls.update(next);
    caLog.info({ root: ca.activeRoot().fingerprint256, serverCertificate: renew ? "reissued" : "kept" }, "control-tls-updated");
  };
  // A change of CA roots is a change like any other: reload, and the trust bundle goes out in
  // deltas. Control's listener accepts cell certificates from the new roots at once, and keeps
  // presenting its certificate from the previous root while that root is still in the bundle
  // (cells that have not had the new bundle yet can still verify it, and reconnect to get it).
  const unsubscribeCa = feed.onChange((affected) => {
    if (!affected.kinds.has("ca") && !affected.kinds.has("full")) return;
    // A failed reload (store down) is retried on the next change or by the feed's own catch-up.
    // Compared with what the listener holds, not with reload's answer: rotate() on this replica
    // has already reloaded by the time its own change notification arrives.
    ca.reload().then(
      () => refreshTls(false),
      (err: unknown) => caLog.warn({ err: errorMessage(err) }, "ca-reload-failed"),
    );
  });
  // The server certificate is renewed (from the active root) once two thirds of its validity have passed.
  const renewTimer = setInterval(() => {
    const { notBefore, notAfter } = certificateValidity(tls.current.certificatePem);
    if (Date.now() >= notBefore + ((notAfter - notBefore) * 2) / 3) refreshTls(true);
  }, config.controlCertCheckMs ?? 3_600_000);
  renewTimer.unref();
  const grpc = await startGrpcServer(
    { auth, leases, instances, cells, signer, feed, hub, liveness: liveness.isLive, log: streamLog },
    tls,
    config.grpcListen,
    streamLog,
  );
  grpcLiveness.fn = (apps) => grpc.livenessChanged(apps);
  liveness.start();
  const certificates = new CertificatePusher(feed, hub, instances, signer, streamLog);
  certificates.start();

  const advertised = config.grpcAdvertise ?? `${config.grpcListen.host === "0.0.0.0" ? "127.0.0.1" : config.grpcListen.host}:${grpc.port}`;
  return {
    deps: { cells, joinTokens: new JoinTokenStore(store.db), routes: new RouteStore(store), signer, hub, grpcEndpoint: () => advertised },
    feed,
    ca,
    grpcPort: grpc.port,
    async stop() {
      liveness.stop();
      clearInterval(renewTimer);
      certificates.stop();
      unsubscribeCa();
      await grpc.stop();
      await hub.stop();
      await feed.stop();
    },
  };
}
