// `weft control`: the policy server (REST API on :4002), on PostgreSQL or the embedded store.
import { Command, Option } from "commander";
import { createLogger } from "../../common/logger.js";
import { parseHostPort } from "../../common/ops-server.js";
import { CONTROL_DEFAULTS, type ControlConfig } from "../../control/config.js";
import { parseDuration } from "../../control/auth/tokens.js";

interface ControlFlags {
  listen: string;
  opsListen: string;
  dataDir: string;
  databaseUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  corsOrigin: string[];
  trustIssuer: string[];
  maxPoliciesPerSource: string;
  cleanupInterval: string;
  grpcListen: string;
  grpcAdvertise?: string;
  grpcName: string[];
  overlayNetwork: string;
  subnetPrefix: string;
  leaseTtl: string;
  cellGrace: string;
  cellCertValidity: string;
  caCert?: string;
  caKey?: string;
  logLevel: string;
}

const collect = (v: string, acc: string[]) => [...acc, v];

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function controlCommand(): Command {
  return new Command("control")
    .description("run the control plane: the policy API (HTTPS) over PostgreSQL or the embedded store")
    .option("--listen <host:port>", "REST API listen address", CONTROL_DEFAULTS.listen)
    .option("--ops-listen <host:port>", "metrics and health listen address", CONTROL_DEFAULTS.opsListen)
    .option("--data-dir <dir>", "data directory (embedded store, keys, certificates)", CONTROL_DEFAULTS.dataDir)
    .option("--database-url <url>", "PostgreSQL URL; without it the embedded store in --data-dir is used")
    .option("--tls-cert <file>", "API server certificate (PEM); default: self-signed in --data-dir")
    .option("--tls-key <file>", "API server private key (PEM)")
    .option("--cors-origin <origin>", "allowed CORS origin (repeatable)", collect, [])
    .option("--trust-issuer <url>", "also accept tokens from this OIDC issuer (repeatable)", collect, [])
    .option("--max-policies-per-source <n>", "non-admin policy quota per source app", String(CONTROL_DEFAULTS.maxPoliciesPerSource))
    .option("--cleanup-interval <minutes>", "stale policy cleanup interval", String(CONTROL_DEFAULTS.cleanupIntervalMinutes))
    .option("--grpc-listen <host:port>", "mTLS gRPC listen address for cells and DNS servers", CONTROL_DEFAULTS.grpcListen)
    .option("--grpc-advertise <host:port>", "where cells reach the gRPC listener (default: the listen address)")
    .option("--grpc-name <name>", "extra DNS name or IP for the gRPC server certificate (repeatable)", collect, [])
    .option("--overlay-network <cidr>", "overlay network leased to cells", CONTROL_DEFAULTS.overlayNetwork)
    .option("--subnet-prefix <n>", "prefix length of one cell's lease", String(CONTROL_DEFAULTS.subnetPrefix))
    .option("--lease-ttl <duration>", "lease lifetime without renewal", `${CONTROL_DEFAULTS.leaseTtlHours}h`)
    .option("--cell-grace <duration>", "how long a silent cell's instances stay in DNS", `${CONTROL_DEFAULTS.cellGraceSeconds}s`)
    .option("--cell-cert-validity <duration>", "validity of cell certificates (cells renew them at two thirds)", "168h")
    .option("--ca-cert <file>", "platform CA root certificate (PEM); default: created on first start, kept in the store")
    .option("--ca-key <file>", "platform CA root private key (PEM)")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]).default("info"))
    .action(async (flags: ControlFlags) => {
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new Error("--tls-cert and --tls-key must be given together");
      if (Boolean(flags.caCert) !== Boolean(flags.caKey)) throw new Error("--ca-cert and --ca-key must be given together");
      const config: ControlConfig = Object.freeze({
        listen: parseHostPort(flags.listen),
        opsListen: parseHostPort(flags.opsListen, "127.0.0.1"),
        dataDir: flags.dataDir,
        ...(flags.databaseUrl ? { databaseUrl: flags.databaseUrl } : {}),
        ...(flags.tlsCert ? { tlsCertFile: flags.tlsCert } : {}),
        ...(flags.tlsKey ? { tlsKeyFile: flags.tlsKey } : {}),
        allowedCorsOrigins: flags.corsOrigin,
        trustedIssuers: flags.trustIssuer,
        maxPoliciesPerSource: positiveInt("max-policies-per-source", flags.maxPoliciesPerSource),
        cleanupIntervalMs: positiveInt("cleanup-interval", flags.cleanupInterval) * 60_000,
        grpcListen: parseHostPort(flags.grpcListen),
        ...(flags.grpcAdvertise ? { grpcAdvertise: flags.grpcAdvertise } : {}),
        grpcNames: flags.grpcName,
        overlayNetwork: flags.overlayNetwork,
        subnetPrefix: positiveInt("subnet-prefix", flags.subnetPrefix),
        leaseTtlMs: parseDuration(flags.leaseTtl) * 1000,
        cellGraceMs: parseDuration(flags.cellGrace) * 1000,
        cellCertValidityMs: parseDuration(flags.cellCertValidity) * 1000,
        ...(flags.caCert ? { caCertFile: flags.caCert } : {}),
        ...(flags.caKey ? { caKeyFile: flags.caKey } : {}),
      });
      const logger = createLogger({ level: flags.logLevel as "info", name: "weft-control" });
      const abort = new AbortController();
      // Imported here so that user commands do not pay for loading the control plane.
      const { startControl } = await import("../../control/main.js");
      const running = await startControl(config, logger, abort.signal);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutdown-requested");
          abort.abort();
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      await running.stop();
      logger.flush();
    });
}
