// The nftables table `inet weft`, as data plus the text of one transaction.
//
// Packet path in a cell:
//   prerouting (mangle prio): a packet from a local container gets mark = its app's tag (map @tags);
//     packets from the VTEP keep the mark the kernel restored from the VXLAN GBP header.
//   forward: established/related first (one conntrack lookup, the fast path); then traffic to a
//     local container goes to `ingress`: a hash vmap on (mark . daddr . l4proto) jumps to a small
//     port chain that accepts when dport is in the policy's ranges and stores the tag in ct mark
//     (so a removed policy can cut exactly its flows); router traffic (ROUTER_MARK) is accepted;
//     everything else is rejected. Then untagged traffic may not leave into the overlay.
//   postrouting (nat): container traffic leaving the overlay is masqueraded.
//   input: containers reach only the DNS address on the cell itself.
// Port ranges live in content-named chains (`ports_8080-8090`) shared by every key with the same
// ranges, so a 1-65535 range is one rule, and the per-packet cost is one hash lookup at any size.
// The map is a plain hash (no interval flag): nft deletes from an interval set only after dumping
// it (40-60 ms at 50,000 elements here), while hash element changes stay a few milliseconds.
import { DNS_IP, NFT_TABLE, ROUTER_MARK, VTEP_NAME } from "./names.js";
import type { AllowEntry, PortChainSpec, RuleDelta } from "./kernel-types.js";
import { formatRange, type PortRange } from "./port-ranges.js";

export const RULESET_VERSION = "v1";
const T = `inet ${NFT_TABLE}`;

interface BaseRule {
  readonly id: string;
  readonly text: string;
}
interface BaseChain {
  readonly name: string;
  readonly hook: string;
  readonly rules: readonly BaseRule[];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

export const BASE_CHAINS: readonly BaseChain[] = [
  {
    name: "prerouting",
    hook: "type filter hook prerouting priority mangle; policy accept;",
    rules: [{ id: "egress-mark", text: `iifname != "${VTEP_NAME}" meta mark set ip saddr map @tags` }],
  },
  {
    name: "forward",
    hook: "type filter hook forward priority filter; policy accept;",
    rules: [
      { id: "established", text: "ct state established,related accept" },
      { id: "invalid", text: "ct state invalid drop" },
      { id: "to-container", text: "ip daddr @containers jump ingress" },
      { id: "untagged-overlay", text: `oifname "${VTEP_NAME}" meta mark & 0xffff == 0 reject with icmpx type admin-prohibited` },
    ],
  },
  {
    name: "ingress",
    hook: "",
    rules: [
      { id: "allow", text: "meta l4proto { tcp, udp } meta mark . ip daddr . meta l4proto vmap @allow" },
      { id: "router", text: `meta mark ${hex(ROUTER_MARK)} accept` },
      { id: "reject-tcp", text: "meta l4proto tcp reject with tcp reset" },
      { id: "reject", text: "reject with icmpx type port-unreachable" },
    ],
  },
  {
    name: "input",
    hook: "type filter hook input priority filter; policy accept;",
    rules: [
      { id: "host-established", text: "ip saddr @containers ct state established,related accept" },
      { id: "host-dns", text: `ip saddr @containers ip daddr ${DNS_IP} meta l4proto { tcp, udp } th dport 53 accept` },
      { id: "host-reject", text: "ip saddr @containers reject with icmpx type admin-prohibited" },
    ],
  },
  {
    name: "postrouting",
    hook: "type nat hook postrouting priority srcnat; policy accept;",
    rules: [{ id: "masquerade", text: `ip saddr @containers ip daddr != @overlay oifname != "${VTEP_NAME}" masquerade` }],
  },
];

export const BASE_CHAIN_NAMES: ReadonlySet<string> = new Set(BASE_CHAINS.map((c) => c.name));

export function ruleComment(id: string): string {
  return `weft:${RULESET_VERSION}:${id}`;
}

/** The comments each base chain must carry, in order: how the planner detects drift. */
export function expectedBaseComments(chain: string): readonly string[] {
  return BASE_CHAINS.find((c) => c.name === chain)?.rules.map((r) => ruleComment(r.id)) ?? [];
}

export const PORT_CHAIN_PREFIX = "ports_";
const PORT_COMMENT_PREFIX = ruleComment("ports:");

export function portRuleComment(r: PortRange): string {
  return PORT_COMMENT_PREFIX + formatRange(r);
}

/** Comment of a port rule -> its range text, or undefined for any other comment. */
export function portRangeFromComment(comment: string): string | undefined {
  return comment.startsWith(PORT_COMMENT_PREFIX) ? comment.slice(PORT_COMMENT_PREFIX.length) : undefined;
}

/** Content-addressed: the same canonical ranges always give the same chain. */
export function portChainName(ranges: readonly PortRange[]): string {
  const body = ranges.map(formatRange).join("_");
  if (body.length <= 200) return PORT_CHAIN_PREFIX + body;
  let h = 0x811c9dc5;
  for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body.charCodeAt(i), 0x01000193) >>> 0;
  return `${PORT_CHAIN_PREFIX}h${h.toString(16)}_${ranges.length}`;
}

const SETS = [
  "set containers { type ipv4_addr; }",
  "map tags { type ipv4_addr : mark; }",
  "map allow { type mark . ipv4_addr . inet_proto : verdict; }",
  "set overlay { type ipv4_addr; flags interval; }",
];

const allowElem = (e: AllowEntry): string => `${hex(e.tag)} . ${e.ip} . ${e.protocol}`;

function elements(verb: "add" | "delete", set: string, items: readonly string[]): string[] {
  return items.length === 0 ? [] : [`${verb} element ${T} ${set} { ${items.join(", ")} }`];
}

function baseChainLines(c: BaseChain): string[] {
  const decl = c.hook ? `add chain ${T} ${c.name} { ${c.hook} }` : `add chain ${T} ${c.name}`;
  return [
    decl,
    `flush chain ${T} ${c.name}`,
    ...c.rules.map((r) => `add rule ${T} ${c.name} ${r.text} comment "${ruleComment(r.id)}"`),
  ];
}

function portChainLines(p: PortChainSpec): string[] {
  return [
    `add chain ${T} ${p.name}`,
    `flush chain ${T} ${p.name}`,
    ...p.ranges.map(
      (r) => `add rule ${T} ${p.name} th dport ${formatRange(r)} ct mark set meta mark accept comment "${portRuleComment(r)}"`,
    ),
  ];
}

/**
 * One transaction, in an order that keeps every reference valid: table and sets, port chains,
 * base chains (which reference the sets and `ingress`), element removals, element additions,
 * and last the port chains nothing refers to any more.
 */
export function renderDelta(d: RuleDelta): string {
  const lines: string[] = [];
  if (d.createTable) lines.push(`add table ${T}`, ...SETS.map((s) => `add ${s.replace(/^(set|map) (\w+)/, `$1 ${T} $2`)}`));
  for (const p of d.putPortChains) lines.push(...portChainLines(p));
  // `ingress` is jumped to from `forward`, so it is (re)built first.
  const rebuild = [...d.rebuildBaseChains].sort((a, b) => (a === "ingress" ? -1 : b === "ingress" ? 1 : 0));
  for (const name of rebuild) {
    const c = BASE_CHAINS.find((x) => x.name === name);
    if (c) lines.push(...baseChainLines(c));
  }
  lines.push(
    ...elements("delete", "allow", d.removeAllow.map(allowElem)),
    ...elements("delete", "tags", d.removeTags.map((t) => t.ip)),
    ...elements("delete", "containers", d.removeContainers),
    ...elements("delete", "overlay", d.removeOverlay),
    ...elements("add", "overlay", d.addOverlay),
    ...elements("add", "containers", d.addContainers),
    ...elements("add", "tags", d.addTags.map((t) => `${t.ip} : ${hex(t.tag)}`)),
    ...elements("add", "allow", d.addAllow.map((e) => `${allowElem(e)} : jump ${e.chain}`)),
  );
  for (const name of d.deletePortChains) lines.push(`delete chain ${T} ${name}`);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

export function isEmptyDelta(d: RuleDelta): boolean {
  return renderDelta(d) === "";
}
