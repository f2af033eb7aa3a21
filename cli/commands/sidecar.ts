// `weft sidecar`: TLS on 61443 for containers. By default one process per cell serves every
// container the agent lists in the channel directory (each listener inside its container's
// namespace); `--instance GUID` runs one process for one container, inside its namespace.
import { Command, Option } from "commander";
import { createLogger } from "../../common/logger.js";
import { parseHostPort } from "../../common/ops-server.js";
import { SIDECAR_PORT, checkAppPort } from "../../common/sidecar-contract.js";
import { DEFAULT_LIMITS, SIDECAR_DEFAULTS, type ProxyLimits, type SidecarConfig } from "../../sidecar/config.js";
import { startSidecar } from "../../sidecar/main.js";

interface SidecarFlags {
  channelDir: string;
  instance?: string;
  port: string;
  listenHost: string;
  opsListen?: string;
  handshakeTimeout: string;
  idleTimeout: string;
  connectTimeout: string;
  maxConnections: string;
  maxPendingHandshakes: string;
  netnsConcurrency: string;
  dataPath: "native" | "node";
  logLevel: string;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function sidecarCommand(): Command {
  return new Command("sidecar")
    .description("terminate TLS on port 61443 in each container's network namespace and forward to the app on 8080")
    .option("--channel-dir <dir>", "directory the agent writes containers/ into", SIDECAR_DEFAULTS.channelDir)
    .option("--instance <guid>", "serve only this container, from inside its network namespace (one process per container)")
    .option("--port <port>", "TLS port inside each container", String(SIDECAR_DEFAULTS.listenPort))
    .option("--listen-host <ip>", "with --instance: the address to bind in the namespace", SIDECAR_DEFAULTS.listenHost)
    .option("--ops-listen <host:port>", `metrics and health listen address (default ${SIDECAR_DEFAULTS.opsListen} for the shared sidecar, none with --instance)`)
    .option("--handshake-timeout <ms>", "TLS handshake deadline", String(DEFAULT_LIMITS.handshakeTimeoutMs))
    .option("--idle-timeout <ms>", "close connections idle this long", String(DEFAULT_LIMITS.idleTimeoutMs))
    .option("--connect-timeout <ms>", "deadline for connecting to the app", String(DEFAULT_LIMITS.connectTimeoutMs))
    .option("--max-connections <n>", "open connections per container", String(DEFAULT_LIMITS.maxConnections))
    .option("--max-pending-handshakes <n>", "connections in their handshake per container (the oldest is closed past this)", String(DEFAULT_LIMITS.maxPendingHandshakes))
    .option("--netns-concurrency <n>", "listeners made in namespaces at once", String(SIDECAR_DEFAULTS.netns.concurrency))
    .addOption(new Option("--data-path <path>", "who serves plain L4 containers: native (weft-tlsd, OpenSSL; node:tls when not built) or node").choices(["native", "node"]).default("native"))
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]).default("info"))
    .action(async (flags: SidecarFlags) => {
      const port = positiveInt("port", flags.port);
      if (port !== SIDECAR_PORT) checkAppPort(port); // any port but the app's reserved meaning is fine in tests
      const limits: ProxyLimits = Object.freeze({
        handshakeTimeoutMs: positiveInt("handshake-timeout", flags.handshakeTimeout),
        idleTimeoutMs: positiveInt("idle-timeout", flags.idleTimeout),
        connectTimeoutMs: positiveInt("connect-timeout", flags.connectTimeout),
        maxConnections: positiveInt("max-connections", flags.maxConnections),
        maxPendingHandshakes: positiveInt("max-pending-handshakes", flags.maxPendingHandshakes),
      });
      const perContainer = flags.instance !== undefined;
      const opsListen = flags.opsListen ?? (perContainer ? undefined : SIDECAR_DEFAULTS.opsListen);
      const config: SidecarConfig = Object.freeze({
        mode: flags.instance !== undefined ? { kind: "per-container" as const, instanceGuid: flags.instance } : { kind: "shared" as const },
        channelDir: flags.channelDir,
        listenPort: port,
        listenHost: flags.listenHost,
        limits,
        dataPath: flags.dataPath,
        ...(opsListen !== undefined ? { opsListen: parseHostPort(opsListen, "127.0.0.1") } : {}),
        netns: Object.freeze({ ...SIDECAR_DEFAULTS.netns, concurrency: positiveInt("netns-concurrency", flags.netnsConcurrency) }),
      });
      const logger = createLogger({ level: flags.logLevel as "info", name: "weft-sidecar" });
      const running = await startSidecar(config, logger);
      const onHup = () => void running.rescan().catch((err: unknown) => logger.error({ err }, "rescan-failed"));
      process.on("SIGHUP", onHup);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutdown-requested");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      process.off("SIGHUP", onHup);
      await running.stop();
      logger.flush();
    });
}
