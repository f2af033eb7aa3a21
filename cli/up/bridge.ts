// The port bridge of `weft up`: control listens on the machine's loopback, and each cell namespace
// sees it at its own 127.0.0.1 on the same ports, so the cell's agent and DNS server reach control
// exactly as they would on a host next to it. Each listening socket is made inside the cell's
// namespace by a short-lived helper (the sidecar's netns listener) and handed to this process, which
// accepts on it and connects to control on the loopback. TLS passes through untouched. No route,
// address or firewall rule is added anywhere, least of all in the machine's own namespace.
import { writeFileSync } from "node:fs";
import { connect, type Server, type Socket } from "node:net";
import { Counter, Gauge } from "prom-client";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { createMetricsRegistry, startOpsServer, type OpsServer } from "../../common/ops-server.js";
import { listenInNamespace } from "../../sidecar/netns-listener.js";

export interface BridgeConfig {
  /** Cell namespaces (paths) that get the listeners. */
  readonly namespaces: readonly string[];
  /** Loopback ports bridged into every namespace (the same port on both sides). */
  readonly ports: readonly number[];
  readonly opsListen: { host: string; port: number };
  /** Written once every listener is up. */
  readonly readyFile?: string;
}

export interface RunningBridge {
  stop(): Promise<void>;
}

export async function startBridge(config: BridgeConfig, logger: Logger): Promise<RunningBridge> {
  const log = logger.child({ component: "bridge" });
  const registry = createMetricsRegistry("bridge");
  const active = new Gauge({ name: "weft_bridge_connections", help: "Open bridged connections", registers: [registry] });
  const total = new Counter({ name: "weft_bridge_connections_total", help: "Bridged connections", labelNames: ["port", "outcome"], registers: [registry] });
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let ops: OpsServer | undefined;

  const onConnection = (port: number) => (client: Socket) => {
    const upstream = connect({ host: "127.0.0.1", port, noDelay: true });
    client.setNoDelay(true);
    sockets.add(client).add(upstream);
    active.inc();
    let outcome = "ok";
    const done = () => {
      if (!sockets.delete(client)) return;
      sockets.delete(upstream);
      active.dec();
      total.inc({ port: String(port), outcome });
      client.destroy();
      upstream.destroy();
    };
    upstream.once("error", (err) => {
      outcome = "upstream-error";
      log.debug({ port, err: errorMessage(err) }, "upstream-error");
      done();
    });
    client.once("error", done);
    client.once("close", done);
    upstream.once("close", done);
    client.pipe(upstream).pipe(client);
  };

  try {
    for (const ns of config.namespaces) {
      for (const port of config.ports) {
        const server = await listenInNamespace(ns, port, { nsenterPath: "nsenter", timeoutMs: 30_000, host: "127.0.0.1" });
        server.on("connection", onConnection(port));
        server.on("error", (err) => log.error({ ns, port, err: errorMessage(err) }, "listener-error"));
        servers.push(server);
        log.info({ ns, port }, "bridge-listening");
      }
    }
    ops = await startOpsServer({
      ...config.opsListen,
      registry,
      logger: log,
      health: () => ({ healthy: true, checks: { listeners: { ok: true, detail: `${servers.length}` } } }),
    });
  } catch (err) {
    for (const s of servers) s.close();
    throw err;
  }
  if (config.readyFile) writeFileSync(config.readyFile, `${process.pid}\n`);
  return {
    async stop() {
      for (const s of servers) s.close();
      for (const s of sockets) s.destroy();
      await ops?.close();
    },
  };
}
