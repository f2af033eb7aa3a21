// The operations listener every long-running weft process serves: Prometheus text on /metrics and
// a JSON health report on /health (200 when healthy, 503 with the reasons when not). It is plain
// HTTP and meant for loopback or an operator network, apart from any user-facing listener.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry, collectDefaultMetrics } from "prom-client";
import { silentLogger, type Logger } from "./logger.js";

export interface HealthReport {
  readonly healthy: boolean;
  readonly checks: Record<string, { ok: boolean; detail?: string }>;
}

export type HealthCheck = () => Promise<HealthReport> | HealthReport;

export function createMetricsRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  collectDefaultMetrics({ register: registry, prefix: "weft_" });
  return registry;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  health: HealthCheck;
  logger?: Logger;
}): Promise<OpsServer> {
  const log = opts.logger ?? silentLogger;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { "content-type": "application/json" }).end('{"error":"method not allowed"}');
      return;
    }
    if (path === "/metrics") {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": opts.registry.contentType }).end(text),
        (err: unknown) => {
          log.error({ err }, "metrics-failed");
          res.writeHead(500).end();
        },
      );
      return;
    }
    if (path === "/health") {
      Promise.resolve()
        .then(() => opts.health())
        .then(
          (report) =>
            res
              .writeHead(report.healthy ? 200 : 503, { "content-type": "application/json" })
              .end(JSON.stringify(report)),
          (err: unknown) =>
            res
              .writeHead(503, { "content-type": "application/json" })
              .end(JSON.stringify({ healthy: false, checks: { health: { ok: false, detail: String(err) } } })),
        );
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port }, "ops-server-started");
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function parseHostPort(value: string, defaultHost = "0.0.0.0"): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(value)}, expected HOST:PORT`);
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(value)}`);
  const host = m[1] ?? (m[2] === "" || m[2] === undefined ? defaultHost : m[2]);
  return { host, port };
}
