// The cell-facing half of control: the platform CA, the desired-state feed, the gRPC listener with
// its Sync and Watch streams, cell liveness for DNS, and what the REST API needs to join cells and
// report status. Built by main.ts after the store is migrated; stop() tears down in reverse.
import { hostname } from "node:os";
import type { Registry } from "prom-client";
import type { Logger } from "../common/logger.js";
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
import { startGrpcServer } from "./stream/grpc-server.js";
import { platformSigner } from "./stream/platform-signer.js";

export interface RunningPlane {
  readonly deps: PlaneDeps;
  readonly feed: StateFeed;
  readonly ca: PlatformCa;
  readonly grpcPort: number;
  stop(): Promise<void>;
}

export async function startPlane(config: ControlConfig, store: Store, log: Logger, registry: Registry): Promise<RunningPlane> {
  const ca = await PlatformCa.open({
    store,
    logger: log.child({ component: "ca" }),
    ...(config.caCertFile && config.caKeyFile ? { operatorRoot: readRootFiles(config.caCertFile, config.caKeyFile) } : {}),
  });
  const signer = platformSigner(ca);
  const feed = new StateFeed(store.db, log.child({ component: "state" }));
  await feed.start();
  // A change of CA roots is a change like any other: reload, and the trust bundle goes out in deltas.
  const caLog = log.child({ component: "ca" });
  const unsubscribeCa = feed.onChange((affected) => {
    if (!affected.kinds.has("ca") && !affected.kinds.has("full")) return;
    // A failed reload (store down) is retried on the next change or by the feed's own catch-up.
    ca.reload().then(
      (changed) => {
        if (changed) caLog.info({ root: ca.activeRoot().fingerprint256 }, "ca-reloaded");
      },
      (err: unknown) => caLog.warn({ err: errorMessage(err) }, "ca-reload-failed"),
    );
  });

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
  const serverCert = ca.issueControlServerCert({
    dnsNames: names.filter((n) => !isIp(n)),
    ips: [...new Set(["127.0.0.1", ...names.filter(isIp), ...(config.grpcListen.host !== "0.0.0.0" && isIp(config.grpcListen.host) ? [config.grpcListen.host] : [])])],
  });
  const grpc = await startGrpcServer(
    { auth, leases, instances, cells, signer, feed, hub, liveness: liveness.isLive, log: streamLog },
    { caBundlePem: ca.trustBundlePem(), certificatePem: serverCert.certificatePem, keyPem: serverCert.keyPem },
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
      certificates.stop();
      unsubscribeCa();
      await grpc.stop();
      await hub.stop();
      await feed.stop();
    },
  };
}
