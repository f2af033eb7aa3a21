// The nftables table `inet weft`, as data plus the text of one transaction.
//
// Packet path in a cell:
//   forward: an established/related packet that does not enter the overlay is accepted first (the
//     fast path: no lookup at all). Then a packet from a local container gets mark = its app's tag
//     (map @tags), so GBP carries it into the overlay; packets from the VTEP keep the mark the
//     kernel restored from the VXLAN GBP header. Then established/related; a new connection
//     DNATed to a container from outside the overlay (a port mapping) gets ROUTER_MARK; then traffic
//     to a local container goes to `ingress`: router traffic (ROUTER_MARK) is accepted; the tag is
//     stored in ct mark (so a removed policy can cut exactly its flows); a hash map on
//     (mark . daddr . l4proto) turns the mark into a port class id; the small interval set
//     `ports` (class . dport range) accepts; everything else is rejected. Then untagged traffic
//     may not leave into the overlay.
//   postrouting (nat): container traffic leaving the overlay is masqueraded.
//   input: containers reach only the DNS address (TCP and UDP 53) and the configured host services
//     (@host_services) on the cell itself; everything else from a container to the cell host is
//     rejected. Other sources (the underlay, VXLAN from other cells) cost one set lookup.
//   forward, egress (app security groups): a new connection from a container that leaves the cell
//     other than into the overlay jumps to `egress`. Overlay addresses are rejected there (ASGs
//     never open container-to-container traffic; policies govern that), then the verdict map
//     @egress_sets jumps to the container's ASG chain `asg-<hash>`: the allow-list of the ASG set
//     (defaults plus space bindings, running or staging) that the container's space and lifecycle
//     select, shared by every container with the same set, so 1,000 rules cost one chain per set
//     and a container is one map element. What the chain does not accept is rejected.
//   prerouting (nat): NetIn. A TCP/UDP connection to a local address on a mapped host port is
//     DNATed to the container (@netin_dnat), the same mapping the chained `portmap` plugin makes.
//     The cheap tests come first, so a container's or the overlay's new flow costs no fib lookup.
// So only a flow's first packet walks the rules (nat chains run for it alone); after it, a
// forwarded packet costs one conntrack state test, plus the tag lookup when it enters the overlay.
//     In forward, only a DNATed connection to a mapped container port (@netin) is router traffic.
// A port class is the merged range list of one key, shared by every key with the same ranges, so
// a 1-65535 range is one element and the per-packet cost is one hash and one small interval lookup
// at any number of policies. Class ids start at 0x10000, so an unclassified mark (a tag) never
// matches `ports`. Neither an interval set keyed by the whole tuple (nft dumps an interval set
// before deleting from it: 40-60 ms at 50,000) nor a verdict map jumping to port chains (every
// commit re-validates all jumps: ~12 ms at 50,000) keeps one change cheap; this layout does.
import { DNS_IP, NFT_TABLE, ROUTER_MARK, VTEP_NAME } from "./names.js";
import type { AllowEntry, PortClass, RuleDelta } from "./kernel-types.js";
import { formatRange } from "./port-ranges.js";

export const RULESET_VERSION = "v3";
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
    name: "forward",
    hook: "type filter hook forward priority filter; policy accept;",
    rules: [
      // An established flow's packet that does not enter the overlay needs nothing more: its mark
      // is read by no one (a veth into a container clears it). Same-cell and outbound traffic
      // thus costs no tag lookup after a flow's first packet.
      { id: "established-local", text: `ct state established,related oifname != "${VTEP_NAME}" accept` },
      // Every other packet from a local container gets its app's tag: a new flow's (ingress and the
      // untagged check below read it) and every packet into the overlay, established or not (GBP
      // carries it). Here rather than in a prerouting chain of its own: nothing before forward
      // reads the mark, and one base chain less is one hook call less for every forwarded packet.
      { id: "egress-mark", text: `iifname != "${VTEP_NAME}" meta mark set ip saddr map @tags` },
      { id: "established", text: "ct state established,related accept" },
      { id: "invalid", text: "ct state invalid drop" },
      // A new connection DNATed (by Weft's netin map or the chained `portmap` plugin) to a
      // container port that one of its CNI port mappings names, from neither the overlay nor a
      // container, is router traffic. Marked here, in forward: at prerouting's mangle priority the
      // DNAT has not happened yet. Any other DNAT to a container meets the default deny.
      { id: "port-mapped", text: `ct status dnat iifname != "${VTEP_NAME}" ip saddr != @containers ip daddr . meta l4proto . th dport @netin meta mark set ${hex(ROUTER_MARK)}` },
      { id: "to-container", text: "ip daddr @containers jump ingress" },
      { id: "untagged-overlay", text: `oifname "${VTEP_NAME}" meta mark & 0xffff == 0 reject with icmpx type admin-prohibited` },
      { id: "to-outside", text: `ip saddr @containers oifname != "${VTEP_NAME}" jump egress` },
    ],
  },
  {
    name: "egress",
    hook: "",
    rules: [
      { id: "egress-overlay", text: "ip daddr @overlay reject with icmpx type admin-prohibited" },
      { id: "egress-asg", text: "ip saddr vmap @egress_sets" },
      { id: "egress-reject-tcp", text: "meta l4proto tcp reject with tcp reset" },
      { id: "egress-reject", text: "reject with icmpx type admin-prohibited" },
    ],
  },
  {
    name: "netin",
    hook: "type nat hook prerouting priority dstnat; policy accept;",
    rules: [
      { id: "netin-dnat", text: `iifname != "${VTEP_NAME}" ip saddr != @containers meta l4proto { tcp, udp } fib daddr type local dnat ip to meta l4proto . th dport map @netin_dnat` },
    ],
  },
  {
    name: "ingress",
    hook: "",
    rules: [
      { id: "router", text: `meta mark ${hex(ROUTER_MARK)} accept` },
      { id: "tag-to-ct", text: "ct mark set meta mark" },
      // @allow holds tcp and udp keys only, so other protocols miss it and keep their tag, which
      // is below PORT_CLASS_BASE and never in @ports: no protocol test is needed here.
      { id: "classify", text: "meta mark set meta mark . ip daddr . meta l4proto map @allow" },
      { id: "ports", text: "meta mark . th dport @ports accept" },
      { id: "reject-tcp", text: "meta l4proto tcp reject with tcp reset" },
      { id: "reject", text: "reject with icmpx type port-unreachable" },
    ],
  },
  {
    name: "input",
    hook: "type filter hook input priority filter; policy accept;",
    rules: [
      // One set lookup for what does not come from a container (every VXLAN packet from another
      // cell arrives here), instead of one per rule.
      { id: "host-not-container", text: "ip saddr != @containers accept" },
      { id: "host-established", text: "ct state established,related accept" },
      { id: "host-dns", text: `ip daddr ${DNS_IP} meta l4proto { tcp, udp } th dport 53 accept` },
      { id: "host-services", text: "ip daddr . meta l4proto . th dport @host_services accept" },
      { id: "host-reject", text: "reject with icmpx type admin-prohibited" },
    ],
  },
  {
    name: "postrouting",
    hook: "type nat hook postrouting priority srcnat; policy accept;",
    // The overlay test first: a new flow between containers (the common case) costs one lookup.
    rules: [{ id: "masquerade", text: `ip daddr != @overlay ip saddr @containers oifname != "${VTEP_NAME}" masquerade` }],
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


/** The keyed sets and maps of the cell edge, diffed generically (see ObservedFilter.elements). */
export const EDGE_SETS = ["egress_sets", "netin", "netin_dnat", "host_services"] as const;
export type EdgeSet = (typeof EDGE_SETS)[number];

/** ASG chains: `asg-` + a hash of their rules; their rules carry comments `weft:v2:asg:i/n`. */
export const ASG_CHAIN_PREFIX = "asg-";
export const asgRuleComment = (i: number, n: number): string => `weft:${RULESET_VERSION}:asg:${i}/${n}`;
export const isAsgChain = (name: string): boolean => name.startsWith(ASG_CHAIN_PREFIX);

/** Port class ids start above every tag (tags are 16 bits). */
export const PORT_CLASS_BASE = 0x10000;

const SETS = [
  "set containers { type ipv4_addr; }",
  "map tags { type ipv4_addr : mark; }",
  "map allow { type mark . ipv4_addr . inet_proto : mark; }",
  "set ports { type mark . inet_service; flags interval; }",
  "set overlay { type ipv4_addr; flags interval; }",
  "map egress_sets { type ipv4_addr : verdict; }",
  "set netin { type ipv4_addr . inet_proto . inet_service; }",
  "map netin_dnat { type inet_proto . inet_service : ipv4_addr . inet_service; }",
  "set host_services { type ipv4_addr . inet_proto . inet_service; }",
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

const classElems = (classes: readonly PortClass[]): string[] =>
  classes.flatMap((c) => c.ranges.map((r) => `${hex(c.id)} . ${formatRange(r)}`));

/**
 * One transaction, in an order that keeps every reference valid: table and sets, base chains
 * (which reference the sets and `ingress`), element removals, then element additions. The
 * transaction is atomic, so packets see the old or the new state, never a mix.
 */
export function renderDelta(d: RuleDelta): string {
  const lines: string[] = [];
  if (d.createTable) {
    lines.push(`add table ${T}`, ...SETS.map((s) => `add ${s.replace(/^(set|map) (\w+)/, `$1 ${T} $2`)}`));
    // Regular chains exist before any base chain jumps to them.
    for (const c of BASE_CHAINS) if (!c.hook) lines.push(`add chain ${T} ${c.name}`);
  }
  // ASG chains first (the verdict map's elements jump to them), then the regular base chains
  // (`forward` jumps to them), then the hooked ones.
  for (const c of d.addChains ?? []) {
    lines.push(`add chain ${T} ${c.name}`, `flush chain ${T} ${c.name}`);
    c.rules.forEach((r, i) => lines.push(`add rule ${T} ${c.name} ${r} comment "${asgRuleComment(i, c.rules.length)}"`));
  }
  const rank = (name: string) => (BASE_CHAINS.find((x) => x.name === name)?.hook ? 1 : 0);
  const rebuild = [...d.rebuildBaseChains].sort((a, b) => rank(a) - rank(b));
  for (const name of rebuild) {
    const c = BASE_CHAINS.find((x) => x.name === name);
    if (c) lines.push(...baseChainLines(c));
  }
  const removeBySet = new Map<string, string[]>();
  for (const e of d.removeElements ?? []) removeBySet.set(e.set, [...(removeBySet.get(e.set) ?? []), e.key]);
  const addBySet = new Map<string, string[]>();
  for (const e of d.addElements ?? []) addBySet.set(e.set, [...(addBySet.get(e.set) ?? []), e.text]);
  for (const [set, keys] of removeBySet) lines.push(...elements("delete", set, keys));
  lines.push(
    ...elements("delete", "allow", d.removeAllow.map(allowElem)),
    ...(d.resetPortClasses ? [`flush set ${T} ports`] : []),
    ...elements("delete", "tags", d.removeTags.map((t) => t.ip)),
    ...elements("delete", "containers", d.removeContainers),
    ...elements("delete", "overlay", d.removeOverlay),
    ...elements("add", "overlay", d.addOverlay),
    ...elements("add", "containers", d.addContainers),
    ...elements("add", "tags", d.addTags.map((t) => `${t.ip} : ${hex(t.tag)}`)),
    ...elements("add", "ports", classElems([...(d.resetPortClasses ?? []), ...d.addPortClasses])),
    ...elements("add", "allow", d.addAllow.map((e) => `${allowElem(e)} : ${hex(e.classId)}`)),
  );
  for (const [set, texts] of addBySet) lines.push(...elements("add", set, texts));
  for (const name of d.removeChains ?? []) lines.push(`delete chain ${T} ${name}`);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

export function isEmptyDelta(d: RuleDelta): boolean {
  return renderDelta(d) === "";
}
