// Starts Weft's DNS server in-process on 127.0.0.1 ephemeral ports for a test, with a silent
// logger and optional overrides, and gives a Node resolver pointed at it.
import { Resolver } from "node:dns/promises";
import { silentLogger } from "../../common/logger.js";
import type { DnsConfig } from "../config.js";
import { startDns, type RunningDns } from "../main.js";
import type { RegistryInstance, RegistryRoute } from "../registry.js";

export function testConfig(overrides: Partial<DnsConfig> = {}): DnsConfig {
  return Object.freeze({
    listen: { host: "127.0.0.1", port: 0 },
    opsListen: { host: "127.0.0.1", port: 0 },
    upstreams: [],
    domains: ["apps.internal"],
    ttlSeconds: 0,
    upstreamTimeoutMs: 500,
    maxPendingForwards: 1000,
    ednsUdpSize: 4096,
    tcpIdleTimeoutMs: 10_000,
    maxTcpConnections: 100,
    ...overrides,
  });
}

export async function startTestDns(overrides: Partial<DnsConfig> = {}): Promise<RunningDns> {
  return startDns(testConfig(overrides), silentLogger);
}

export function nodeResolver(port: number): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return resolver;
}

/** Instances with indexes 0..n-1 at 10.255.<subnet>.<index+2>. */
export function instances(n: number, subnet = 1): RegistryInstance[] {
  return Array.from({ length: n }, (_, index) => ({ instanceGuid: `guid-${subnet}-${index}`, index, ip: `10.255.${subnet}.${index + 2}` }));
}

export function route(host: string, n: number, subnet = 1): RegistryRoute {
  return { host, instances: instances(n, subnet) };
}
