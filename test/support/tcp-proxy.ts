// A TCP proxy a test can cut and restore, to make PostgreSQL (or anything) "go away" for one
// process without touching the real server.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";

export interface TcpProxy {
  readonly port: number;
  /** Refuses new connections and drops open ones. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (an ephemeral port), or on a unix socket at `opts.listenPath` (reachable from
 * every network namespace, since unix sockets live in the file system).
 */
export async function startTcpProxy(targetHost: string, targetPort: number, opts: { listenPath?: string } = {}): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;

  const listen = async () => {
    const s = createServer((client) => {
      const upstream = createConnection({ host: targetHost, port: targetPort });
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      if (opts.listenPath !== undefined) s.listen(opts.listenPath, () => resolve());
      else s.listen(port, "127.0.0.1", () => resolve());
    });
    if (opts.listenPath === undefined) port = (s.address() as AddressInfo).port;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    close: stop,
  };
}
