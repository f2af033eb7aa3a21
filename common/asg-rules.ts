// App security group (ASG) rules in Cloud Foundry's JSON, parsed and validated once for both ends:
// control validates what the API receives (each problem names the field, e.g. `rules[2].ports`),
// and the agent turns the same normalised rules into nftables matches.
//
//   {"protocol": "tcp" | "udp" | "icmp" | "all",
//    "destination": "10.0.0.0/8" | "10.0.0.1" | "10.0.0.1-10.0.0.9" | "a,b,c" (any of those),
//    "ports": "80,443" | "8000-9000" | "80,8000-9000"   (tcp/udp; omitted: every port),
//    "type": -1..255, "code": -1..255                   (icmp; -1 is any, CF's "any" form),
//    "log": true | false, "description": "..."}
// Unknown keys are refused, as are ports or ICMP fields on a protocol that has none.

export type AsgProtocol = "tcp" | "udp" | "icmp" | "all";

export interface AsgRule {
  readonly protocol: AsgProtocol;
  /** Each destination as written (CIDR, address, or a-b range). */
  readonly destinations: readonly string[];
  /** "" for every port (tcp/udp) or not applicable. */
  readonly ports: string;
  /** -1: any (also for non-ICMP rules). */
  readonly icmpType: number;
  readonly icmpCode: number;
  readonly log: boolean;
  readonly description: string;
}

export interface IntRange {
  readonly start: number;
  readonly end: number;
}

export class AsgRuleError extends Error {
  constructor(readonly field: string, message: string) {
    super(`invalid ${field}: ${message}`);
    this.name = "AsgRuleError";
  }
}

const KEYS = new Set(["protocol", "destination", "ports", "type", "code", "log", "description"]);
export const MAX_RULES_PER_GROUP = 5000;
const MAX_DESTINATIONS = 1000;

function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** One destination (CIDR, address or a-b range) as an inclusive integer range. */
export function parseDestination(text: string, field = "destination"): IntRange {
  const t = text.trim();
  const dash = t.indexOf("-");
  if (dash >= 0) {
    const a = ipv4(t.slice(0, dash).trim());
    const b = ipv4(t.slice(dash + 1).trim());
    if (a === undefined || b === undefined) throw new AsgRuleError(field, `${JSON.stringify(text)} is not an IPv4 range a.b.c.d-e.f.g.h`);
    if (a > b) throw new AsgRuleError(field, `${JSON.stringify(text)}: the range's start is after its end`);
    return { start: a, end: b };
  }
  const slash = t.indexOf("/");
  if (slash >= 0) {
    const a = ipv4(t.slice(0, slash));
    const lenText = t.slice(slash + 1);
    const len = Number(lenText);
    if (a === undefined || !/^\d{1,2}$/.test(lenText) || len > 32) throw new AsgRuleError(field, `${JSON.stringify(text)} is not an IPv4 CIDR`);
    const size = 2 ** (32 - len);
    const start = Math.floor(a / size) * size;
    return { start, end: start + size - 1 };
  }
  const a = ipv4(t);
  if (a === undefined) throw new AsgRuleError(field, `${JSON.stringify(text)} is not an IPv4 address, CIDR or range`);
  return { start: a, end: a };
}

/** "80,443", "8000-9000" or a mix, as ranges; "" is every port. */
export function parsePorts(text: string, field = "ports"): IntRange[] {
  if (text.trim() === "") return [{ start: 1, end: 65535 }];
  return text.split(",").map((part) => {
    const p = part.trim();
    const m = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(p);
    if (!m) throw new AsgRuleError(field, `${JSON.stringify(part)} is not a port or a port range like 8000-9000`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start < 1 || end > 65535 || start > 65535) throw new AsgRuleError(field, `${JSON.stringify(part)}: ports are 1-65535`);
    if (start > end) throw new AsgRuleError(field, `${JSON.stringify(part)}: the range's start is after its end`);
    return { start, end };
  });
}

/** Sorted, disjoint, non-adjacent. */
export function mergeIntRanges(ranges: readonly IntRange[]): IntRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: { start: number; end: number }[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

function icmpField(v: unknown, field: string): number {
  if (v === undefined) throw new AsgRuleError(field, "required for icmp (-1 for any)");
  if (typeof v !== "number" || !Number.isInteger(v) || v < -1 || v > 255) throw new AsgRuleError(field, "must be an integer from -1 (any) to 255");
  return v;
}

/** Validates one rule of CF's JSON; the error names `rules[i].field`. */
export function parseAsgRule(raw: unknown, i: number): AsgRule {
  const at = (f: string) => `rules[${i}].${f}`;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new AsgRuleError(`rules[${i}]`, "must be an object");
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KEYS.has(k)) throw new AsgRuleError(at(k), "unknown field");
  const protocol = r.protocol;
  if (protocol !== "tcp" && protocol !== "udp" && protocol !== "icmp" && protocol !== "all") {
    throw new AsgRuleError(at("protocol"), `${JSON.stringify(protocol ?? null)}: must be tcp, udp, icmp or all`);
  }
  if (typeof r.destination !== "string" || r.destination.trim() === "") throw new AsgRuleError(at("destination"), "required: a CIDR, an address, a range a-b, or a comma-separated list of those");
  const destinations = r.destination.split(",").map((d) => d.trim());
  if (destinations.length > MAX_DESTINATIONS) throw new AsgRuleError(at("destination"), `at most ${MAX_DESTINATIONS} destinations per rule`);
  for (const d of destinations) parseDestination(d, at("destination"));
  let ports = "";
  if (r.ports !== undefined) {
    if (protocol !== "tcp" && protocol !== "udp") throw new AsgRuleError(at("ports"), `not allowed for protocol ${protocol}`);
    if (typeof r.ports !== "string") throw new AsgRuleError(at("ports"), 'must be a string like "80,443" or "8000-9000"');
    parsePorts(r.ports, at("ports"));
    ports = r.ports.split(",").map((p) => p.trim().replace(/\s+/g, "")).join(",");
  }
  let icmpType = -1;
  let icmpCode = -1;
  if (protocol === "icmp") {
    icmpType = icmpField(r.type, at("type"));
    icmpCode = icmpField(r.code, at("code"));
  } else {
    if (r.type !== undefined) throw new AsgRuleError(at("type"), `not allowed for protocol ${protocol}`);
    if (r.code !== undefined) throw new AsgRuleError(at("code"), `not allowed for protocol ${protocol}`);
  }
  if (r.log !== undefined && typeof r.log !== "boolean") throw new AsgRuleError(at("log"), "must be true or false");
  if (r.description !== undefined && (typeof r.description !== "string" || r.description.length > 1024)) {
    throw new AsgRuleError(at("description"), "must be a string of at most 1024 characters");
  }
  return {
    protocol,
    destinations,
    ports,
    icmpType,
    icmpCode,
    log: r.log === true,
    description: typeof r.description === "string" ? r.description : "",
  };
}

export function parseAsgRules(raw: unknown): AsgRule[] {
  if (!Array.isArray(raw)) throw new AsgRuleError("rules", "must be a list of rules");
  if (raw.length > MAX_RULES_PER_GROUP) throw new AsgRuleError("rules", `at most ${MAX_RULES_PER_GROUP} rules per group`);
  return raw.map((r, i) => parseAsgRule(r, i));
}

/** The rule as CF's JSON renders it. */
export function renderAsgRule(r: AsgRule): Record<string, unknown> {
  return {
    protocol: r.protocol,
    destination: r.destinations.join(","),
    ...(r.ports ? { ports: r.ports } : {}),
    ...(r.protocol === "icmp" ? { type: r.icmpType, code: r.icmpCode } : {}),
    ...(r.log ? { log: true } : {}),
    ...(r.description ? { description: r.description } : {}),
  };
}

export interface ExplainGroup {
  readonly name: string;
  readonly rules: readonly AsgRule[];
  readonly runningDefault: boolean;
  readonly stagingDefault: boolean;
  readonly runningSpaces: readonly string[];
  readonly stagingSpaces: readonly string[];
}

export interface EgressQuestion {
  readonly spaceGuid: string;
  readonly lifecycle: "running" | "staging" | "task";
  readonly destination: string;
  readonly protocol: "tcp" | "udp" | "icmp";
  /** tcp/udp destination port. */
  readonly port?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface EgressAnswer {
  readonly allowed: boolean;
  /** The groups that apply to the container (defaults and space bindings), by name. */
  readonly groups: readonly string[];
  /** Every rule that allows the connection: group name, rule index, and whether it logs. */
  readonly matches: readonly { readonly group: string; readonly index: number; readonly rule: AsgRule }[];
}

/**
 * Would a new connection from a container of this space and lifecycle to the destination leave the
 * cell? The same decision the agent's nftables chain makes (staging containers get the staging
 * set; running and task containers the running set), for `weft asg explain`.
 */
export function explainEgress(groups: readonly ExplainGroup[], q: EgressQuestion): EgressAnswer {
  const ip = parseDestination(q.destination, "destination");
  if (ip.start !== ip.end) throw new AsgRuleError("destination", "must be one IPv4 address");
  const staging = q.lifecycle === "staging";
  const applying = groups.filter((g) => (staging ? g.stagingDefault || g.stagingSpaces.includes(q.spaceGuid) : g.runningDefault || g.runningSpaces.includes(q.spaceGuid)));
  const matches: { group: string; index: number; rule: AsgRule }[] = [];
  for (const g of applying) {
    g.rules.forEach((r, index) => {
      if (!r.destinations.some((d) => {
        const range = parseDestination(d);
        return range.start <= ip.start && ip.start <= range.end;
      })) return;
      let ok: boolean;
      if (r.protocol === "all") ok = true;
      else if (r.protocol !== q.protocol) ok = false;
      else if (r.protocol === "icmp") ok = (r.icmpType < 0 || r.icmpType === (q.icmpType ?? 8)) && (r.icmpCode < 0 || r.icmpCode === (q.icmpCode ?? 0));
      else ok = q.port === undefined ? false : parsePorts(r.ports).some((p) => p.start <= q.port! && q.port! <= p.end);
      if (ok) matches.push({ group: g.name, index, rule: r });
    });
  }
  return { allowed: matches.length > 0, groups: applying.map((g) => g.name), matches };
}
