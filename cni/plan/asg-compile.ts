// An ASG set (the rules of every group that applies to a container) -> the rule texts of one
// nftables chain, named by a hash of those texts, so every container with the same set shares the
// chain and a container is one element of the verdict map @egress_sets. Pure.
//
// Rules with the same protocol, ports (or ICMP type and code) and log flag become one rule whose
// destinations are one anonymous interval set, merged here (nft refuses overlapping elements), so
// a group of 1,000 rules is a handful of set lookups for a new connection and never 1,000 rules per
// container. Malformed rules (control validates them; a saved state could be older) are skipped
// and reported, never allowed.
import { createHash } from "node:crypto";
import {
  intToIpv4,
  mergeIntRanges,
  parseDestination,
  parsePorts,
  type AsgProtocol,
  type IntRange,
} from "../../common/asg-rules.js";
import { ASG_CHAIN_PREFIX } from "../kernel/nft-ruleset.js";

export interface CompilableRule {
  readonly protocol: string;
  readonly destinations: readonly string[];
  readonly ports: string;
  readonly icmpType: number;
  readonly icmpCode: number;
  readonly log: boolean;
}

/** Who a chain's log lines are about (logging makes a chain per app instead of per set). */
export interface LogIdentity {
  readonly appGuid: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
}

export interface CompileOptions {
  /** Log every accepted new connection and every denied one (CF's global ASG logging). */
  readonly logAll?: boolean;
  readonly identity?: LogIdentity;
  /** Rate of each log rule, nft syntax. */
  readonly logRate?: string;
}

export interface CompiledChain {
  readonly name: string;
  readonly rules: readonly string[];
  /** Rules that could not be compiled, with the reason. */
  readonly skipped: readonly string[];
}

const ANY = 0xffffffff;
const LOG_RATE = "10/second burst 20 packets";

function rangeText(r: IntRange, fmt: (n: number) => string): string {
  return r.start === r.end ? fmt(r.start) : `${fmt(r.start)}-${fmt(r.end)}`;
}

function setText(ranges: readonly IntRange[], fmt: (n: number) => string): string {
  return `{ ${ranges.map((r) => rangeText(r, fmt)).join(", ")} }`;
}

/** nft log prefixes hold at most 127 bytes; identities are GUIDs, so they fit. */
function logPrefix(kind: string, id: LogIdentity | undefined): string {
  const who = id ? ` app=${id.appGuid} space=${id.spaceGuid} org=${id.orgGuid}` : "";
  return `weft-${kind}${who} `.replace(/["\\]/g, "").slice(0, 127);
}

interface Group {
  protocol: AsgProtocol;
  match: string;
  log: boolean;
  dests: IntRange[];
}

export function compileAsgChain(rules: readonly CompilableRule[], opts: CompileOptions = {}): CompiledChain {
  const groups = new Map<string, Group>();
  const skipped: string[] = [];
  for (const [i, r] of rules.entries()) {
    try {
      const protocol = r.protocol as AsgProtocol;
      let match: string;
      if (protocol === "tcp" || protocol === "udp") {
        const ports = mergeIntRanges(parsePorts(r.ports));
        const all = ports.length === 1 && ports[0]!.start === 1 && ports[0]!.end === 65535;
        match = all ? `meta l4proto ${protocol}` : `${protocol} dport ${setText(ports, String)}`;
      } else if (protocol === "icmp") {
        if (!Number.isInteger(r.icmpType) || !Number.isInteger(r.icmpCode) || r.icmpType < -1 || r.icmpType > 255 || r.icmpCode < -1 || r.icmpCode > 255) {
          throw new Error(`icmp type ${r.icmpType} code ${r.icmpCode}`);
        }
        // -1 is "any" (CF's ICMP-any rule, which once broke container creation there).
        match = ["meta l4proto icmp", r.icmpType >= 0 ? `icmp type ${r.icmpType}` : "", r.icmpCode >= 0 ? `icmp code ${r.icmpCode}` : ""].filter(Boolean).join(" ");
      } else if (protocol === "all") {
        match = "";
      } else {
        throw new Error(`protocol ${JSON.stringify(r.protocol)}`);
      }
      const dests = r.destinations.map((d) => parseDestination(d));
      if (dests.length === 0) throw new Error("no destination");
      const log = r.log || opts.logAll === true;
      const key = `${match}|${log}`;
      const g = groups.get(key) ?? { protocol, match, log, dests: [] };
      g.dests.push(...dests);
      groups.set(key, g);
    } catch (err) {
      skipped.push(`rule ${i}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const out: string[] = [];
  const rate = opts.logRate ?? LOG_RATE;
  for (const g of [...groups.values()].sort((a, b) => (a.match + a.log < b.match + b.log ? -1 : 1))) {
    const merged = mergeIntRanges(g.dests);
    const everywhere = merged.length === 1 && merged[0]!.start === 0 && merged[0]!.end === ANY;
    const match = [everywhere ? "" : `ip daddr ${setText(merged, intToIpv4)}`, g.match].filter(Boolean).join(" ");
    if (g.log) out.push(`${match} limit rate ${rate} log prefix "${logPrefix("egress-allowed", opts.identity)}" level info`.trim());
    out.push(`${match} accept`.trim());
  }
  if (opts.logAll) out.push(`limit rate ${rate} log prefix "${logPrefix("egress-denied", opts.identity)}" level info`);
  const hash = createHash("sha256").update(out.join("\n")).digest("hex").slice(0, 16);
  return { name: `${ASG_CHAIN_PREFIX}${hash}`, rules: out, skipped };
}
