// `weft dns`: the cell's DNS server for apps.internal (UDP and TCP), forwarding other names.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { Command, Option } from "commander";
import { createLogger } from "../../common/logger.js";
import { parseHostPort } from "../../common/ops-server.js";
import { DNS_DEFAULTS, type DnsConfig } from "../../dns/config.js";
import type { Upstream } from "../../dns/forwarder.js";
import { startDns } from "../../dns/main.js";
import { parseResolvConf, withoutSelf } from "../../dns/resolv-conf.js";
import { normalizeName } from "../../dns/wire.js";

interface DnsFlags {
  listen: string;
  upstream?: string[];
  domain?: string[];
  ttl: string;
  opsListen: string;
  logLevel: string;
  cellDir?: string;
  udpIo: "native" | "dgram";
}

const collect = (v: string, acc: string[] = []) => [...acc, v];

/** "10.0.0.2", "10.0.0.2:5353", "fd00::1" or "[fd00::1]:5353". Addresses only: resolving a
 * resolver's name would need a resolver. */
function parseUpstream(value: string): Upstream {
  const bracketed = /^\[([^\]]+)\]$/.exec(value);
  const upstream = isIP(value) ? { host: value, port: 53 } : bracketed?.[1] ? { host: bracketed[1], port: 53 } : parseHostPort(value);
  if (!isIP(upstream.host)) throw new Error(`--upstream ${JSON.stringify(value)} must be an IP address, optionally with :port`);
  return upstream;
}

export function dnsCommand(): Command {
  return new Command("dns")
    .description("run the cell's DNS server: answers *.apps.internal from the registry, forwards other names")
    .option("--listen <host:port>", "UDP and TCP listen address", DNS_DEFAULTS.listen)
    .option("--upstream <host[:port]>", "upstream resolver for other names (repeatable; default: the nameservers in /etc/resolv.conf)", collect)
    .option("--domain <domain>", `internal domain answered from the registry (repeatable; default: ${DNS_DEFAULTS.domains.join(", ")})`, collect)
    .option("--ttl <seconds>", "TTL of internal answers", String(DNS_DEFAULTS.ttlSeconds))
    .option("--ops-listen <host:port>", "metrics and health listen address", DNS_DEFAULTS.opsListen)
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]).default("info"))
    .addOption(new Option("--udp-io <io>", "UDP I/O: native (recvmmsg/sendmmsg addon; node:dgram when it is not built) or dgram").choices(["native", "dgram"]).default(DNS_DEFAULTS.udpIo))
    .option("--cell-dir <dir>", "the cell's credentials directory (written by `weft agent`); feeds the registry from control")
    .action(async (flags: DnsFlags) => {
      const listen = parseHostPort(flags.listen);
      const ttl = Number(flags.ttl);
      if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fffffff) throw new Error(`--ttl must be a non-negative integer, got ${JSON.stringify(flags.ttl)}`);
      const domains = flags.domain ?? [...DNS_DEFAULTS.domains];
      for (const d of domains) if (normalizeName(d) === undefined) throw new Error(`--domain ${JSON.stringify(d)} is not a valid domain name`);
      const logger = createLogger({ level: flags.logLevel as "info", name: "weft-dns" });
      let upstreams = (flags.upstream ?? []).map(parseUpstream);
      if (upstreams.length === 0) {
        upstreams = withoutSelf(parseResolvConf(readFileSync(DNS_DEFAULTS.resolvConf, "utf8")), listen);
        if (upstreams.length === 0) logger.warn({ file: DNS_DEFAULTS.resolvConf, effect: "names outside the internal domains get SERVFAIL" }, "upstream-resolvers-missing");
      }
      const config: DnsConfig = Object.freeze({
        listen,
        opsListen: parseHostPort(flags.opsListen, "127.0.0.1"),
        upstreams: Object.freeze(upstreams),
        domains: Object.freeze(domains),
        ttlSeconds: ttl,
        upstreamTimeoutMs: DNS_DEFAULTS.upstreamTimeoutMs,
        maxPendingForwards: DNS_DEFAULTS.maxPendingForwards,
        ednsUdpSize: DNS_DEFAULTS.ednsUdpSize,
        tcpIdleTimeoutMs: DNS_DEFAULTS.tcpIdleTimeoutMs,
        maxTcpConnections: DNS_DEFAULTS.maxTcpConnections,
        udpIo: flags.udpIo,
        ...(flags.cellDir ? { cellCredentialsDir: flags.cellDir } : {}),
      });
      if (!flags.cellDir) logger.warn("no --cell-dir: internal names get SERVFAIL until a registry is fed");
      const running = await startDns(config, logger);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutdown-requested");
          resolve();
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
        // Started by bin/weft.js with Node flags (cli/node-flags.ts): stop when the launcher is gone.
        if (process.channel) {
          process.channel.unref();
          process.once("disconnect", () => stop("launcher-exited"));
        }
      });
      await running.stop();
      logger.flush();
    });
}
