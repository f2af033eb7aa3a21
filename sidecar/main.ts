// The sidecar's composition root: from a frozen SidecarConfig it builds the metrics, the container
// set, the channel watch and the ops listener, and stops them in reverse order.
//
// Where each container's listener comes from is the one difference between the modes:
// - shared (default, one process per cell): a listening socket made inside the container's
//   namespace, by weft-tlsd itself (setns) for natively served containers, else by a short-lived
//   helper (netns-listener.ts), a few at a time;
// - per-container (`--instance`, the process runs inside the container's namespace, e.g. under
//   `nsenter --net=...`): 0.0.0.0:61443 in its own namespace, after checking that it is the
//   container's, so the port is never opened on the cell host by mistake.
import pLimit from "p-limit";
import { WeftError } from "../common/errors.js";
import type { Logger } from "../common/logger.js";
import { createMetricsRegistry, startOpsServer, type OpsServer } from "../common/ops-server.js";
import type { SidecarContainerFile } from "../common/sidecar-contract.js";
import type { SidecarConfig } from "./config.js";
import { ContainerSet } from "./container-set.js";
import { ContainerWatch } from "./container-watch.js";
import { createSidecarMetrics } from "./metrics.js";
import { NativeDataPath, nativeDataPathBinary } from "./native-dp.js";
import { isOwnNamespace, listenInNamespace } from "./netns-listener.js";
import type { ListenTarget } from "./tls-front.js";

export interface RunningSidecar {
  readonly containers: ContainerSet;
  readonly opsPort: number | undefined;
  /** The native data path, when it serves L4 containers. */
  readonly native: NativeDataPath | undefined;
  /** Re-reads the whole channel directory (SIGHUP). */
  rescan(): Promise<void>;
  stop(): Promise<void>;
}

export interface SidecarDeps {
  /** Replaces how listeners are made (tests: loopback ports without namespaces). */
  readonly listenerFor?: (spec: SidecarContainerFile) => Promise<ListenTarget>;
  /** Replaces the weft-tlsd binary (tests); null = as if it was not built. */
  readonly nativeBinary?: string | null;
}

let fallbackLogged = false;

function listenerFactory(config: SidecarConfig): (spec: SidecarContainerFile) => Promise<ListenTarget> {
  if (config.mode.kind === "per-container") {
    return async (spec) => {
      if (!(await isOwnNamespace(spec.netnsPath))) {
        throw new WeftError("FORBIDDEN", `this sidecar is not in ${spec.netnsPath}; run it inside the container's namespace (nsenter --net=${spec.netnsPath})`);
      }
      return { host: config.listenHost, port: config.listenPort };
    };
  }
  const limit = pLimit(config.netns.concurrency);
  return (spec) =>
    Promise.resolve({
      netnsPath: spec.netnsPath,
      host: "0.0.0.0",
      port: config.listenPort,
      open: () => limit(() => listenInNamespace(spec.netnsPath, config.listenPort, config.netns)),
    });
}

export async function startSidecar(config: SidecarConfig, logger: Logger, deps: SidecarDeps = {}): Promise<RunningSidecar> {
  const log = logger.child({ component: "sidecar" });
  const registry = createMetricsRegistry("sidecar");
  // The gauges read the set, which needs the metrics: a holder breaks the cycle.
  const ref: { set?: ContainerSet; native?: NativeDataPath } = {};
  const metrics = createSidecarMetrics(
    registry,
    { containers: () => ref.set?.size ?? 0, activeConnections: () => ref.set?.activeConnections ?? 0 },
    () => ref.native?.refresh() ?? Promise.resolve(),
  );
  if ((config.dataPath ?? "native") === "native") {
    const binary = deps.nativeBinary === undefined ? nativeDataPathBinary() : (deps.nativeBinary ?? undefined);
    if (binary === undefined) {
      if (!fallbackLogged) log.warn("native data path not built (dist/bin/weft-tlsd; npm run build:tlsd needs libssl-dev): serving every container with node:tls");
      fallbackLogged = true;
    } else {
      const native = new NativeDataPath({ binary, limits: config.limits, metrics, logger: log.child({ component: "native-data-path" }) });
      try {
        await native.start();
        ref.native = native;
      } catch (err) {
        log.error({ err }, "native data path failed to start: serving every container with node:tls");
        await native.close();
      }
    }
  }
  const native = ref.native;
  const set = new ContainerSet({
    ...(native !== undefined ? { native } : {}),
    channelDir: config.channelDir,
    listenerFor: deps.listenerFor ?? listenerFactory(config),
    limits: config.limits,
    metrics,
    logger: log,
  });
  ref.set = set;
  const only = config.mode.kind === "per-container" ? config.mode.instanceGuid : undefined;
  const watch = new ContainerWatch({ channelDir: config.channelDir, ...(only !== undefined ? { only } : {}), sync: (g) => set.sync(g), logger: log });
  let ops: OpsServer | undefined;
  try {
    await watch.start();
    if (config.opsListen !== undefined) {
      ops = await startOpsServer({
        ...config.opsListen,
        registry,
        logger: log,
        health: () => {
          const checks: Record<string, { ok: boolean; detail?: string }> = { watch: watch.healthy };
          if (native !== undefined) {
            const lost = native.notServed();
            checks.nativeDataPath =
              native.pid === undefined
                ? { ok: false, detail: "restarting" }
                : lost.size > 0
                  ? { ok: false, detail: `${lost.size} containers not served after a restart: ${[...lost.values()][0]}` }
                  : { ok: true };
          }
          for (const [guid, why] of set.failures()) checks[`container:${guid}`] = { ok: false, detail: why };
          return { healthy: Object.values(checks).every((c) => c.ok), checks };
        },
      });
    }
  } catch (err) {
    watch.close();
    await set.close();
    await native?.close();
    throw err;
  }
  log.info({ mode: config.mode.kind, channelDir: config.channelDir, port: config.listenPort, containers: set.size, dataPath: native !== undefined ? "native" : "node" }, "sidecar-started");
  return {
    containers: set,
    native,
    opsPort: ops?.port,
    rescan: () => watch.scan(set.guids()),
    async stop() {
      watch.close();
      await ops?.close();
      await set.close();
      await native?.close();
      log.info("sidecar-stopped");
    },
  };
}
