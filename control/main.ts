// Composition root of `weft control`: builds the store (PostgreSQL or the embedded one), runs the
// migrations, loads keys and certificates, and starts the REST API, the ops listener and the
// periodic cleanup. stop() tears them down in reverse order.
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Gauge } from "prom-client";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { createMetricsRegistry, startOpsServer } from "../common/ops-server.js";
import { loadOrCreateServerCert, pemFingerprint } from "../common/x509.js";
import { buildApiListener } from "./api/server.js";
import { TokenVerifier, issueToken, loadOrCreateSigningKey } from "./auth/tokens.js";
import type { ControlConfig } from "./config.js";
import type { Db } from "./store/db.js";
import { migrate } from "./store/migrate.js";
import { createPgDb } from "./store/pg-db.js";
import { createPgliteDb } from "./store/pglite-db.js";
import { Store } from "./store/store.js";
import { writeFileSync, existsSync } from "node:fs";
import { startPlane, type RunningPlane } from "./plane.js";

export interface RunningControl {
  readonly apiPort: number;
  readonly grpcPort: number;
  readonly plane: RunningPlane;
  readonly opsPort: number;
  readonly store: Store;
  readonly caCertPem: string;
  stop(): Promise<void>;
}

async function openDb(config: ControlConfig, log: Logger): Promise<Db> {
  if (config.databaseUrl) return createPgDb({ connectionString: config.databaseUrl, logger: log.child({ component: "store" }) });
  return createPgliteDb({ dataDir: join(config.dataDir, "store") });
}

/** Runs the migrations, retrying while PostgreSQL is unreachable. */
async function migrateWithRetry(db: Db, log: Logger, signal: AbortSignal): Promise<void> {
  let delay = 250;
  for (;;) {
    try {
      await migrate(db, log);
      return;
    } catch (err) {
      if (signal.aborted) throw err;
      log.warn({ err: errorMessage(err), retryInMs: delay }, "migration-failed");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

export async function startControl(config: ControlConfig, rootLogger: Logger, signal = new AbortController().signal): Promise<RunningControl> {
  const log = rootLogger.child({ component: "control" });
  const registry = createMetricsRegistry("control");
  const db = await openDb(config, log);
  await migrateWithRetry(db, log, signal);
  const store = new Store(db);
  log.info({ store: db.kind }, "store-opened");

  const signingKey = await loadOrCreateSigningKey(config.dataDir);
  const verifier = new TokenVerifier({ localKey: signingKey, trustedIssuers: config.trustedIssuers });
  // The local operator's admin token, like a kubeconfig: the CLI uses it when no token is given.
  const adminTokenFile = join(config.dataDir, "admin.token");
  if (!existsSync(adminTokenFile)) {
    const token = await issueToken(signingKey, { scopes: ["network.admin"], subject: "admin", ttlSeconds: 365 * 86400 });
    writeFileSync(adminTokenFile, token + "\n", { mode: 0o600 });
  }

  let cert: { certPem: string; keyPem: string };
  if (config.tlsCertFile && config.tlsKeyFile) {
    cert = { certPem: readFileSync(config.tlsCertFile, "utf8"), keyPem: readFileSync(config.tlsKeyFile, "utf8") };
  } else {
    const generated = await loadOrCreateServerCert(config.dataDir, "api");
    cert = generated;
    log.info({ fingerprint: pemFingerprint(generated.certPem), certFile: join(config.dataDir, "api.crt"), created: generated.created }, "self-signed-certificate-loaded");
  }

  const plane = await startPlane(config, store, log, registry);
  const revisionGauge = new Gauge({ name: "weft_control_revision", help: "Latest committed revision seen by this replica", registers: [registry] });
  const listener = buildApiListener(
    {
      store,
      verifier,
      logger: log.child({ component: "api" }),
      startedAt: Date.now(),
      config: { maxPoliciesPerSource: config.maxPoliciesPerSource, allowedCorsOrigins: config.allowedCorsOrigins, tls: true },
      plane: plane.deps,
      onCommitted: (rev) => {
        revisionGauge.set(rev);
        plane.feed.kick(rev);
      },
    },
    registry,
    config.listen.host,
  );
  const server = createHttpsServer({ key: cert.keyPem, cert: cert.certPem }, listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const apiPort = (server.address() as AddressInfo).port;
  log.info({ host: config.listen.host, port: apiPort }, "api-started");

  const ops = await startOpsServer({
    host: config.opsListen.host,
    port: config.opsListen.port,
    registry,
    logger: log,
    health: async () => {
      try {
        await store.ping();
        return { healthy: true, checks: { store: { ok: true, detail: db.kind } } };
      } catch (err) {
        return { healthy: false, checks: { store: { ok: false, detail: errorMessage(err) } } };
      }
    },
  });

  const cleanup = setInterval(() => {
    store.cleanupPolicies().then(
      ({ result, revision }) => {
        if (result.length) log.info({ removed: result.length, revision }, "stale-policies-removed");
      },
      (err: unknown) => log.warn({ err: errorMessage(err) }, "stale-policy-cleanup-failed"),
    );
  }, config.cleanupIntervalMs);
  cleanup.unref();

  let stopping: Promise<void> | undefined;
  return {
    apiPort,
    grpcPort: plane.grpcPort,
    plane,
    opsPort: ops.port,
    store,
    caCertPem: cert.certPem,
    stop() {
      stopping ??= stopAll();
      return stopping;
    },
  };

  async function stopAll(): Promise<void> {
    clearInterval(cleanup);
    await ops.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await plane.stop();
    await db.close();
    log.info("control-stopped");
  }
}
