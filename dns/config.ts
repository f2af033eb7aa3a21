// The DNS server's configuration: read and validated once (by the CLI) into a frozen object.
import type { Upstream } from "./forwarder.js";
import type { UdpIo } from "./udp-listener.js";

export interface DnsConfig {
  /** UDP and TCP listen address; port 0 picks ephemeral ports (UDP and TCP may then differ). */
  readonly listen: { host: string; port: number };
  readonly opsListen: { host: string; port: number };
  /** Resolvers for names outside the internal domains, tried in order. */
  readonly upstreams: readonly Upstream[];
  /** Internal domains answered from the registry, e.g. ["apps.internal"]. */
  readonly domains: readonly string[];
  readonly ttlSeconds: number;
  /** How long to wait for one upstream before trying the next (and then answering SERVFAIL). */
  readonly upstreamTimeoutMs: number;
  readonly maxPendingForwards: number;
  /** The largest UDP response we send to an EDNS0 requestor (and advertise in our OPT record). */
  readonly ednsUdpSize: number;
  readonly tcpIdleTimeoutMs: number;
  readonly maxTcpConnections: number;
  /**
   * UDP I/O: "native" (the weft-dns-udp addon: recvmmsg/sendmmsg batches; node:dgram when it is not
   * built) or "dgram". Default DNS_DEFAULTS.udpIo.
   */
  readonly udpIo?: UdpIo;
  /** The cell's credentials directory; when set, the registry is fed by control's stream. */
  readonly cellCredentialsDir?: string;
}

export const DNS_DEFAULTS = {
  listen: "169.254.0.2:53",
  opsListen: "127.0.0.1:4054",
  domains: ["apps.internal"],
  ttlSeconds: 0,
  upstreamTimeoutMs: 2000,
  maxPendingForwards: 4096,
  // Answers never leave the cell (container -> 169.254.0.2 over its veth), so the path-MTU
  // concerns behind the usual 1232 do not apply; 4096 lets large apps fit without a TCP retry.
  ednsUdpSize: 4096,
  tcpIdleTimeoutMs: 10_000,
  maxTcpConnections: 1024,
  resolvConf: "/etc/resolv.conf",
  udpIo: "native" as UdpIo,
} as const;
