// The optional HTTP handler (forward: "http"): secure sockets are handed to a node:http server
// (as injected connections), and http-proxy forwards each request to the app over a keep-alive
// pool, adding X-Forwarded-Client-Cert with the caller's verified identity (Envoy's format) and
// X-Forwarded-For/-Proto. An XFCC header sent by the client is always removed first, so the app
// can trust the one it sees. WebSocket upgrades are passed through. HTTP/1.1 only; it costs far
// more per request than the L4 handler, so it is never the default.
import { Agent, createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import httpProxy from "http-proxy";
import type { Logger } from "../common/logger.js";
import { clientIdentity, xfccValue, type ClientIdentity } from "./client-identity.js";
import type { ProxyLimits } from "./config.js";
import type { SidecarMetrics } from "./metrics.js";
import type { ConnectionHandler } from "./tls-front.js";

export const XFCC = "x-forwarded-client-cert";

export interface HttpForwardOptions {
  readonly upstream: { readonly host: string; readonly port: number };
  readonly limits: ProxyLimits;
  /** Our own workload URI, for XFCC's By element. */
  readonly ownIdentity: () => string | undefined;
  readonly metrics: SidecarMetrics;
  readonly logger: Logger;
}

export function createHttpForward(opts: HttpForwardOptions): ConnectionHandler {
  const identities = new WeakMap<object, ClientIdentity | null>();
  const identityOf = (req: IncomingMessage): ClientIdentity | undefined => {
    const socket = req.socket as TLSSocket;
    let id = identities.get(socket);
    if (id === undefined) {
      id = clientIdentity(socket) ?? null;
      identities.set(socket, id);
    }
    return id ?? undefined;
  };
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({
    target: { host: opts.upstream.host, port: opts.upstream.port },
    agent,
    xfwd: true,
    ws: true,
    proxyTimeout: opts.limits.idleTimeoutMs,
  });
  const setXfcc = (proxyReq: { removeHeader(n: string): void; setHeader(n: string, v: string): void }, req: IncomingMessage) => {
    proxyReq.removeHeader(XFCC);
    const id = identityOf(req);
    if (id !== undefined) proxyReq.setHeader(XFCC, xfccValue(id, opts.ownIdentity()));
  };
  proxy.on("proxyReq", (proxyReq, req) => setXfcc(proxyReq, req));
  proxy.on("proxyReqWs", (proxyReq, req) => setXfcc(proxyReq, req));
  proxy.on("error", (err: NodeJS.ErrnoException, _req, res) => {
    opts.metrics.connections.upstream_failed.inc();
    if (opts.logger.isLevelEnabled("debug")) opts.logger.debug({ code: err.code, err: err.message }, "upstream-request-failed");
    if (res && "writeHead" in res) {
      const r: ServerResponse = res;
      if (!r.headersSent) r.writeHead(502, { "content-type": "text/plain", connection: "close" });
      r.end(r.headersSent ? undefined : "bad gateway: the app is not answering\n");
    } else {
      (res as Duplex | undefined)?.destroy();
    }
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => proxy.ws(req, socket, head));
  server.on("clientError", (_err, socket: Duplex) => socket.destroy());
  return {
    handle(client: TLSSocket): void {
      opts.metrics.connections.proxied.inc();
      client.setTimeout(opts.limits.idleTimeoutMs);
      client.once("timeout", () => {
        opts.metrics.connections.idle_timeout.inc();
        client.destroy();
      });
      server.emit("connection", client);
    },
    close(): void {
      proxy.close();
      agent.destroy();
    },
  };
}
