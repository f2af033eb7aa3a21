// The sidecar's Prometheus metrics. Label children are resolved once here, so the per-connection
// path only increments numbers; bytes are counted when a connection closes (socket byte counters),
// never per chunk. The native data path keeps its own counters; `refresh` adds them at each scrape.
import { Counter, Gauge, type Registry } from "prom-client";

export type ConnectionOutcome =
  | "proxied"
  | "handshake_failed"
  | "upstream_failed"
  | "refused"
  | "evicted"
  | "idle_timeout";

export interface SidecarMetrics {
  readonly connections: Record<ConnectionOutcome, { inc(n?: number): void }>;
  readonly bytes: { readonly fromClients: { inc(n: number): void }; readonly toClients: { inc(n: number): void } };
  readonly rotations: { inc(): void };
  readonly applyFailures: { inc(): void };
  setCertificateExpiry(instanceGuid: string, notAfter: Date): void;
  forgetContainer(instanceGuid: string): void;
}

/** refresh: brings in counters kept elsewhere (the native data path's) before a scrape reads them. */
export function createSidecarMetrics(
  registry: Registry,
  gauges: { containers: () => number; activeConnections: () => number },
  refresh: () => Promise<unknown> = () => Promise.resolve(),
): SidecarMetrics {
  const connections = new Counter({
    name: "weft_sidecar_connections_total",
    help: "Client connections by outcome",
    labelNames: ["outcome"],
    registers: [registry],
    async collect() {
      await refresh();
    },
  });
  const bytes = new Counter({
    name: "weft_sidecar_bytes_total",
    help: "Plaintext bytes proxied",
    labelNames: ["direction"],
    registers: [registry],
    async collect() {
      await refresh();
    },
  });
  const rotations = new Counter({ name: "weft_sidecar_certificate_rotations_total", help: "Certificates replaced without a restart", registers: [registry] });
  const applyFailures = new Counter({ name: "weft_sidecar_apply_failures_total", help: "Container files that could not be applied", registers: [registry] });
  const expiry = new Gauge({
    name: "weft_sidecar_certificate_expiry_timestamp_seconds",
    help: "notAfter of the certificate served per container",
    labelNames: ["instance"],
    registers: [registry],
  });
  new Gauge({
    name: "weft_sidecar_containers",
    help: "Containers served",
    registers: [registry],
    collect() {
      this.set(gauges.containers());
    },
  });
  new Gauge({
    name: "weft_sidecar_active_connections",
    help: "Open client connections",
    registers: [registry],
    async collect() {
      await refresh();
      this.set(gauges.activeConnections());
    },
  });
  const outcomes: ConnectionOutcome[] = ["proxied", "handshake_failed", "upstream_failed", "refused", "evicted", "idle_timeout"];
  return {
    connections: Object.fromEntries(outcomes.map((o) => [o, connections.labels({ outcome: o })])) as SidecarMetrics["connections"],
    bytes: { fromClients: bytes.labels({ direction: "from_client" }), toClients: bytes.labels({ direction: "to_client" }) },
    rotations,
    applyFailures,
    setCertificateExpiry: (guid, notAfter) => expiry.labels({ instance: guid }).set(notAfter.getTime() / 1000),
    forgetContainer: (guid) => expiry.remove({ instance: guid }),
  };
}

/** For tests and tools that need no registry. */
export function noopSidecarMetrics(): SidecarMetrics {
  const n = { inc: () => undefined };
  return {
    connections: { proxied: n, handshake_failed: n, upstream_failed: n, refused: n, evicted: n, idle_timeout: n },
    bytes: { fromClients: n, toClients: n },
    rotations: n,
    applyFailures: n,
    setCertificateExpiry: () => undefined,
    forgetContainer: () => undefined,
  };
}
