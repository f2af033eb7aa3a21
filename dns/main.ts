// Composition root of `weft dns`: builds the registry, the forwarder and the query handler, starts
// the UDP and TCP listeners on one address (with port 0, one ephemeral port shared by both when it
// can be had, so clients can retry a truncated answer over TCP on the same port), then the ops
// listener. stop() tears them down in reverse order.
import { WeftError, errorMessage } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { createMetricsRegistry, startOpsServer } from "../common/ops-server.js";
import { DNS_DEFAULTS, type DnsConfig } from "./config.js";
import { DnsStats, registerDnsMetrics } from "./dns-metrics.js";
import { Forwarder } from "./forwarder.js";
import { QueryHandler } from "./query-handler.js";
import { DnsRegistry } from "./registry.js";
import { RegistryStream } from "./registry-stream.js";
import { startTcpListener, type TcpListener } from "./tcp-listener.js";
import { startUdpListener, type UdpIo, type UdpListener } from "./udp-listener.js";

export interface RunningDns {
  /** Feed it with apply(); the control plane's registry stream client will. */
  readonly registry: DnsRegistry;
  readonly stats: DnsStats;
  readonly udpPort: number;
  /** The UDP I/O in use ("dgram" when "native" was asked for and the addon is not usable). */
  readonly udpIo: UdpIo;
  readonly tcpPort: number;
  readonly opsPort: number;
  stop(): Promise<void>;
}

async function listen(config: DnsConfig, handler: QueryHandler, log: Logger): Promise<{ udp: UdpListener; tcp: TcpListener }> {
  const { host, port } = config.listen;
  const tcpOptions = { host, handler, idleTimeoutMs: config.tcpIdleTimeoutMs, maxConnections: config.maxTcpConnections, logger: log };
  for (let attempt = 1; ; attempt++) {
    let udp: UdpListener;
    try {
      udp = await startUdpListener({ host, port, handler, io: config.udpIo ?? DNS_DEFAULTS.udpIo, logger: log });
    } catch (err) {
      throw new WeftError("INVALID_ARGUMENT", `cannot listen on udp ${host}:${port}: ${errorMessage(err)}`, { cause: err });
    }
    try {
      return { udp, tcp: await startTcpListener({ ...tcpOptions, port: udp.port }) };
    } catch (err) {
      await udp.close();
      const taken = (err as { code?: unknown }).code === "EADDRINUSE";
      if (port === 0 && taken && attempt < 5) continue;
      throw new WeftError("INVALID_ARGUMENT", `cannot listen on tcp ${host}:${udp.port}: ${errorMessage(err)}`, { cause: err });
    }
  }
}

export async function startDns(config: DnsConfig, rootLogger: Logger): Promise<RunningDns> {
  const log = rootLogger.child({ component: "dns" });
  const stats = new DnsStats();
  const registry = new DnsRegistry({ ttlSeconds: config.ttlSeconds, logger: rootLogger.child({ component: "dns-registry" }) });
  const forwarder = new Forwarder({
    upstreams: config.upstreams,
    attemptTimeoutMs: config.upstreamTimeoutMs,
    maxPending: config.maxPendingForwards,
    stats,
    logger: rootLogger.child({ component: "dns-forwarder" }),
  });
  const handler = new QueryHandler({
    registry,
    forwarder,
    domains: config.domains,
    serverUdpSize: config.ednsUdpSize,
    stats,
    logger: log,
  });
  const { udp, tcp } = await listen(config, handler, log);

  const metrics = createMetricsRegistry("dns");
  registerDnsMetrics(metrics, stats, registry);
  let ops;
  try {
    ops = await startOpsServer({
      host: config.opsListen.host,
      port: config.opsListen.port,
      registry: metrics,
      logger: log,
      health: () => ({
        healthy: registry.ready,
        checks: {
          listeners: { ok: true, detail: `udp ${config.listen.host}:${udp.port} (${udp.io}), tcp ${config.listen.host}:${tcp.port}` },
          registry: registry.ready
            ? { ok: true, detail: `revision ${registry.revision}, ${registry.routeCount} routes` }
            : { ok: false, detail: "no registry snapshot yet: internal names get SERVFAIL" },
          upstreams: { ok: config.upstreams.length > 0, detail: config.upstreams.map((u) => `${u.host}:${u.port}`).join(", ") || "none: other names get SERVFAIL" },
        },
      }),
    });
  } catch (err) {
    await tcp.close();
    await udp.close();
    throw err;
  }

  const stream = config.cellCredentialsDir
    ? new RegistryStream(registry, { credentialsDir: config.cellCredentialsDir }, rootLogger.child({ component: "dns-registry-stream" }))
    : undefined;
  stream?.start();

  log.info(
    { udpPort: udp.port, udpIo: udp.io, tcpPort: tcp.port, opsPort: ops.port, domains: config.domains, upstreams: config.upstreams, ttl: config.ttlSeconds },
    "dns-started",
  );
  return {
    registry,
    stats,
    udpPort: udp.port,
    udpIo: udp.io,
    tcpPort: tcp.port,
    opsPort: ops.port,
    async stop() {
      stream?.stop();
      await ops.close();
      forwarder.close();
      await tcp.close();
      await udp.close();
      log.info("dns-stopped");
    },
  };
}
