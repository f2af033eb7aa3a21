// The sidecar's configuration: built once by the CLI (cli/commands/sidecar.ts), frozen, and read
// only by the composition root (main.ts), which hands each part the values it needs.
import { DEFAULT_CHANNEL_DIR, SIDECAR_PORT } from "../common/sidecar-contract.js";

export interface ProxyLimits {
  /** A client must finish its TLS handshake within this time. */
  readonly handshakeTimeoutMs: number;
  /** A connection with no bytes moving either way for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Connecting to the app may take this long (CF's Envoy: 250 ms); then the client is closed. */
  readonly connectTimeoutMs: number;
  /** Open connections per container; more are refused at accept. */
  readonly maxConnections: number;
  /** Connections still in their handshake per container; past this the oldest is closed, so idle
   * or slow clients cannot hold the slots that real clients need. */
  readonly maxPendingHandshakes: number;
}

export const DEFAULT_LIMITS: ProxyLimits = Object.freeze({
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 600_000,
  connectTimeoutMs: 1_000,
  maxConnections: 10_000,
  maxPendingHandshakes: 512,
});

export type SidecarMode =
  /** One process per cell: every container's listener, each created inside its network namespace. */
  | { readonly kind: "shared" }
  /** One process per container, started inside the container's network namespace. */
  | { readonly kind: "per-container"; readonly instanceGuid: string };

export interface SidecarConfig {
  readonly mode: SidecarMode;
  readonly channelDir: string;
  /** Port of the TLS listener in each container's namespace (61443; tests use others). */
  readonly listenPort: number;
  /** Per-container mode: the address to bind in the container's namespace (0.0.0.0; tests use loopback). */
  readonly listenHost: string;
  readonly limits: ProxyLimits;
  /** Metrics and health; undefined = no ops listener. */
  readonly opsListen?: { readonly host: string; readonly port: number };
  /** Who serves plain L4 containers: "native" (default; weft-tlsd, when it was built) or "node"
   * (node:tls for everything). mTLS, PROXY v2 and HTTP forwarding always use node:tls. */
  readonly dataPath?: "native" | "node";
  /** Shared mode: how listening sockets are made inside namespaces. */
  readonly netns: { readonly nsenterPath: string; readonly concurrency: number; readonly timeoutMs: number };
}

export const SIDECAR_DEFAULTS = Object.freeze({
  channelDir: DEFAULT_CHANNEL_DIR,
  listenPort: SIDECAR_PORT,
  listenHost: "0.0.0.0",
  opsListen: "127.0.0.1:4064",
  netns: Object.freeze({ nsenterPath: "nsenter", concurrency: 4, timeoutMs: 30_000 }),
});
