// The mTLS gRPC listener (:4003) for cells and DNS servers. TLS requires a client certificate
// signed by the platform CA; the services then identify the cell from it. Sync streams are handed
// to the CellHub, Watch streams to RegistryWatchers fed by the same state changes. Message size is
// capped well below gRPC's default, so a huge message is refused before it is parsed.
import { Server, type ServerDuplexStream, type ServerWritableStream } from "@grpc/grpc-js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { loadWeftProto } from "../../proto/load.js";
import type { AgentMessage, ControlMessage, RegistryUpdate, WatchRegistryRequest } from "../../proto/types.js";
import type { StateFeed } from "../state/state-feed.js";
import type { CellAuthenticator } from "./cell-auth.js";
import type { CellHub } from "./cell-hub.js";
import { cellServiceHandlers, type CellServiceDeps } from "./cell-service.js";
import type { ControlTls } from "./control-tls.js";
import { toServiceError } from "./grpc-errors.js";
import { RegistryWatcher } from "./registry-watcher.js";
import type { CellLiveness } from "./registry-view.js";

export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface GrpcServerDeps extends CellServiceDeps {
  readonly hub: CellHub;
  readonly feed: StateFeed;
  readonly auth: CellAuthenticator;
  readonly liveness: CellLiveness;
}

export interface RunningGrpc {
  readonly port: number;
  /** Tell registry watchers that cell liveness changed for these apps. */
  livenessChanged(apps: ReadonlySet<string> | "all"): void;
  stop(): Promise<void>;
}

export async function startGrpcServer(
  deps: GrpcServerDeps,
  tls: ControlTls,
  listen: { host: string; port: number },
  log: Logger,
): Promise<RunningGrpc> {
  const proto = loadWeftProto();
  const server = new Server({
    "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  const watchers = new Set<RegistryWatcher>();
  const unsubscribe = deps.feed.onChange((affected) => {
    for (const w of watchers) w.changed(affected.apps);
  });

  const sync = (call: ServerDuplexStream<AgentMessage, ControlMessage>) => {
    deps.auth.identify(call).then(
      (id) => {
        const session = deps.hub.attach(id.cellId, call);
        call.on("data", (msg: AgentMessage) => session.handle(msg));
        const done = () => deps.hub.detach(session);
        call.on("end", () => {
          done();
          call.end();
        });
        call.on("error", done);
        call.on("close", done);
        call.on("cancelled", done);
      },
      (err: unknown) => {
        log.warn({ err: errorMessage(err) }, "stream-refused");
        call.emit("error", toServiceError(err));
      },
    );
  };

  const watch = (call: ServerWritableStream<WatchRegistryRequest, RegistryUpdate>) => {
    deps.auth.identify(call).then(
      () => {
        const w = new RegistryWatcher(call, deps.feed.state, deps.liveness);
        watchers.add(w);
        const done = () => watchers.delete(w);
        call.on("cancelled", done);
        call.on("close", done);
        call.on("error", done);
        w.start();
      },
      (err: unknown) => call.emit("error", toServiceError(err)),
    );
  };

  server.addService(proto.weft.v1.Cell.service, { ...cellServiceHandlers(deps), Sync: sync });
  server.addService(proto.weft.v1.Registry.service, { Watch: watch });

  const creds = tls.serverCredentials();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  log.info({ host: listen.host, port }, "grpc-started");
  return {
    port,
    livenessChanged(apps) {
      for (const w of watchers) w.changed(apps);
    },
    async stop() {
      unsubscribe();
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      });
    },
  };
}
