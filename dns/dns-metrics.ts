// Counters of the DNS server and their Prometheus export.
//
// The hot path bumps plain numbers in DnsStats; prom-client metrics read them only when scraped
// (through `collect`). A labelled prom-client inc() per query hashes its labels each time, which
// would cost a noticeable share of a query's budget.
import { Counter, Gauge, type Registry } from "prom-client";
import { RCODE_NAMES } from "./wire.js";

const RCODE_SLOTS = 17; // 0-15 from the header, 16 = BADVERS

export class DnsStats {
  /** Responses sent, by rcode, per transport. */
  readonly udpResponses = new Float64Array(RCODE_SLOTS);
  readonly tcpResponses = new Float64Array(RCODE_SLOTS);
  /** Datagrams or frames not answered: shorter than a header, or not a query. */
  dropped = 0;
  /** Responses sent with TC because they did not fit the UDP limit. */
  truncated = 0;
  /** Queries sent on to an upstream resolver. */
  forwarded = 0;
  upstreamTimeouts = 0;
  upstreamErrors = 0;
  /** Forwards refused because too many were already pending. */
  upstreamOverloaded = 0;
  /** Upstream answers that came back truncated and were fetched again over TCP. */
  upstreamTcpRetries = 0;
  /** Exceptions caught in the query path (a bug if ever non-zero). */
  internalErrors = 0;

  countResponse(udp: boolean, rcode: number): void {
    const slot = rcode < RCODE_SLOTS ? rcode : RCODE_SLOTS - 1;
    if (udp) this.udpResponses[slot]! += 1;
    else this.tcpResponses[slot]! += 1;
  }
}

function rcodeLabel(slot: number): string {
  return slot === 16 ? "BADVERS" : (RCODE_NAMES[slot] ?? String(slot));
}

export interface RegistryGauges {
  readonly revision: number;
  readonly routeCount: number;
  readonly nameCount: number;
  readonly ready: boolean;
}

export function registerDnsMetrics(registry: Registry, stats: DnsStats, source: RegistryGauges): void {
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  new Counter({
    name: "weft_dns_queries_total",
    help: "DNS queries answered, by transport and response code",
    labelNames: ["transport", "rcode"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [transport, counts] of [["udp", stats.udpResponses], ["tcp", stats.tcpResponses]] as const) {
        counts.forEach((n, slot) => {
          if (n > 0) this.inc({ transport, rcode: rcodeLabel(slot) }, n);
        });
      }
    },
  });
  counter("weft_dns_dropped_total", "Datagrams and frames dropped unanswered (shorter than a header, or not a query)", () => stats.dropped);
  counter("weft_dns_truncated_total", "Responses sent with TC set because they exceeded the UDP limit", () => stats.truncated);
  counter("weft_dns_forwarded_total", "Queries forwarded to upstream resolvers", () => stats.forwarded);
  counter("weft_dns_upstream_tcp_retries_total", "Truncated upstream answers fetched again over TCP", () => stats.upstreamTcpRetries);
  counter("weft_dns_internal_errors_total", "Exceptions caught while answering (should stay 0)", () => stats.internalErrors);
  new Counter({
    name: "weft_dns_upstream_failures_total",
    help: "Forwarded queries answered with SERVFAIL because no upstream answered, by reason",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: "timeout" }, stats.upstreamTimeouts);
      this.inc({ reason: "error" }, stats.upstreamErrors);
      this.inc({ reason: "overload" }, stats.upstreamOverloaded);
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge("weft_dns_registry_revision", "Revision of the registry DNS answers from", () => source.revision);
  gauge("weft_dns_registry_routes", "Internal routes (hosts) in the registry", () => source.routeCount);
  gauge("weft_dns_registry_names", "Names with addresses (hosts and index names)", () => source.nameCount);
  gauge("weft_dns_registry_ready", "1 once the first registry snapshot has arrived", () => (source.ready ? 1 : 0));
}
