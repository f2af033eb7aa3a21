// The agent's configuration: read and validated once (by the CLI) into a frozen object.
export interface AgentConfig {
  readonly cellId: string;
  /** The cell's address on the underlay (VXLAN endpoints) and its device. */
  readonly underlayIp: string;
  readonly underlayDev: string;
  /** The cell's network namespace (where its kernel objects live); /proc/self/ns/net on a host. */
  readonly netns: string;
  /** State: credentials, containers, IPAM, last control state. */
  readonly stateDir: string;
  /** The CNI plugin's unix socket. */
  readonly socketPath: string;
  /** Joining: control's REST API and a one-time join token (only needed until the cell has credentials). */
  readonly apiUrl?: string;
  readonly apiCaFile?: string;
  readonly joinToken?: string;
  /** Overrides the gRPC endpoint control advertises. */
  readonly grpcEndpoint?: string;
  readonly overlayNetwork: string;
  readonly searchDomains: readonly string[];
  /** The sidecar channel directory; undefined: no sidecar on this cell. */
  readonly sidecarDir?: string;
  readonly waitForSidecar: boolean;
  readonly addTimeoutMs: number;
  readonly reconcileEveryMs: number;
  readonly opsListen: { host: string; port: number };
  /** Services on the cell host containers may reach besides DNS (CF host_tcp_services/host_udp_services). */
  readonly hostServices?: readonly { readonly ip: string; readonly protocol: "tcp" | "udp"; readonly port: number }[];
  /** Log every new egress connection, accepted or denied, rate-limited (CF iptables_asg_logging). */
  readonly asgLogging?: boolean;
}

export const AGENT_DEFAULTS = {
  stateDir: "/var/lib/weft/agent",
  socketPath: "/run/weft/agent.sock",
  overlayNetwork: "10.255.0.0/16",
  searchDomains: ["apps.internal"],
  addTimeoutMs: 30_000,
  // A full observe-and-plan at 50,000 policies takes seconds; changes take the fast path anyway.
  reconcileEveryMs: 30_000,
  opsListen: "127.0.0.1:4005",
} as const;
