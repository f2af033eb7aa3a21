// Desired filtering state -> one RuleDelta plus the conntrack cuts it implies. Pure.
//
// Policies become allow entries per local destination container: (source tag, container IP,
// protocol) -> the port class of the merged port ranges of every policy with that key.
// Removals and replacements are diffed against the observed table, and every port that was
// allowed before and is not now becomes a FlowCut, so established flows it allowed are cut.
import {
  allowKey,
  type AllowEntry,
  type FlowCut,
  type ObservedFilter,
  type PortClass,
  type RuleDelta,
} from "../kernel/kernel-types.js";
import { ASG_CHAIN_PREFIX, BASE_CHAINS, BASE_CHAIN_NAMES, EDGE_SETS, asgRuleComment, expectedBaseComments, isAsgChain } from "../kernel/nft-ruleset.js";
import { mergeRanges, subtractRanges, type PortRange } from "../kernel/port-ranges.js";
import type { DesiredCell } from "./desired-state.js";
import { PortClassAllocator } from "./port-classes.js";

export interface FilterPlan {
  readonly delta: RuleDelta;
  readonly cuts: readonly FlowCut[];
}

interface DesiredFilter {
  readonly containers: Set<string>;
  readonly tags: Map<string, number>;
  readonly allow: Map<string, AllowEntry>;
  readonly portClasses: Map<number, PortRange[]>;
  readonly overlay: Set<string>;
  readonly chains: ReadonlyMap<string, readonly string[]>;
  readonly elements: Map<string, Map<string, string>>;
}

/** The chain every container uses when the desired cell says nothing about egress. */
export const OPEN_EGRESS_CHAIN = `${ASG_CHAIN_PREFIX}open`;

/** Chains and edge-set elements: ASG chain per container, NetIn mappings, host services. */
export function desiredEdge(d: DesiredCell): { chains: ReadonlyMap<string, readonly string[]>; elements: Map<string, Map<string, string>> } {
  const elements = new Map<string, Map<string, string>>(EDGE_SETS.map((s) => [s, new Map()]));
  const put = (set: string, key: string, text = key) => elements.get(set)!.set(key, text);
  const chains = d.egress ? d.egress.chains : new Map([[OPEN_EGRESS_CHAIN, ["accept"]]]);
  for (const c of d.containers) {
    const chain = d.egress ? d.egress.byIp.get(c.ip) : OPEN_EGRESS_CHAIN;
    if (chain !== undefined && chains.has(chain)) put("egress_sets", c.ip, `${c.ip} : jump ${chain}`);
  }
  // A host port belongs to one container: the first by id, so the choice is stable.
  for (const c of [...d.containers].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    for (const m of c.portMappings ?? []) {
      put("netin", `${c.ip} . ${m.protocol} . ${m.containerPort}`);
      const key = `${m.protocol} . ${m.hostPort}`;
      if (!elements.get("netin_dnat")!.has(key)) put("netin_dnat", key, `${key} : ${c.ip} . ${m.containerPort}`);
    }
  }
  for (const h of d.hostServices ?? []) put("host_services", `${h.ip} . ${h.protocol} . ${h.port}`);
  return { chains, elements };
}

/** Chains to (re)write and delete, and elements to remove and add, from observed to desired. */
export function planEdge(
  want: { chains: ReadonlyMap<string, readonly string[]>; elements: ReadonlyMap<string, ReadonlyMap<string, string>> },
  o: ObservedFilter,
): Pick<RuleDelta, "addChains" | "removeChains" | "addElements" | "removeElements"> {
  const addChains: { name: string; rules: readonly string[] }[] = [];
  for (const [name, rules] of want.chains) {
    const seen = o.baseChains.get(name);
    const exp = rules.map((_, i) => asgRuleComment(i, rules.length));
    if (!seen || seen.length !== exp.length || seen.some((c, i) => c !== exp[i])) addChains.push({ name, rules });
  }
  const removeChains = [...o.baseChains.keys()].filter((n) => isAsgChain(n) && !want.chains.has(n));
  const addElements: { set: string; key: string; text: string }[] = [];
  const removeElements: { set: string; key: string }[] = [];
  for (const set of EDGE_SETS) {
    const w = want.elements.get(set) ?? new Map<string, string>();
    const seen = o.elements.get(set) ?? new Map<string, string>();
    for (const [key, text] of w) {
      const had = seen.get(key);
      if (had === text) continue;
      if (had !== undefined) removeElements.push({ set, key });
      addElements.push({ set, key, text });
    }
    for (const key of seen.keys()) if (!w.has(key)) removeElements.push({ set, key });
  }
  return { addChains, removeChains, addElements, removeElements };
}

export function desiredFilter(d: DesiredCell, observed: ObservedFilter): DesiredFilter {
  const containers = new Set(d.containers.map((c) => c.ip));
  const tags = new Map<string, number>();
  for (const c of d.containers) if (c.tag !== undefined && c.tag > 0) tags.set(c.ip, c.tag);
  const ipsByApp = new Map<string, string[]>();
  for (const c of d.containers) ipsByApp.set(c.appGuid, [...(ipsByApp.get(c.appGuid) ?? []), c.ip]);
  const rangesByKey = new Map<string, { tag: number; ip: string; protocol: "tcp" | "udp"; ranges: PortRange[] }>();
  for (const p of d.policies) {
    for (const ip of ipsByApp.get(p.destAppGuid) ?? []) {
      const key = allowKey(p.sourceTag, ip, p.protocol);
      const cur = rangesByKey.get(key) ?? { tag: p.sourceTag, ip, protocol: p.protocol, ranges: [] };
      cur.ranges.push(p.ports);
      rangesByKey.set(key, cur);
    }
  }
  const classes = new PortClassAllocator(observed.portClasses);
  const allow = new Map<string, AllowEntry>();
  const portClasses = new Map<number, PortRange[]>();
  for (const [key, v] of rangesByKey) {
    const ranges = mergeRanges(v.ranges);
    const classId = classes.idFor(ranges);
    portClasses.set(classId, ranges);
    allow.set(key, { tag: v.tag, ip: v.ip, protocol: v.protocol, classId });
  }
  return { containers, tags, allow, portClasses, overlay: new Set([d.overlayCidr]), ...desiredEdge(d) };
}

/** Ranges a class accepted as observed; everything when the class is unknown. */
export function observedRanges(o: ObservedFilter, classId: number): PortRange[] {
  const ranges = o.portClasses.get(classId);
  return ranges && ranges.length > 0 ? mergeRanges(ranges) : [{ start: 1, end: 65535 }];
}

export function planFilter(d: DesiredCell, o: ObservedFilter): FilterPlan {
  const want = desiredFilter(d, o);
  const rebuildBaseChains = BASE_CHAINS.map((c) => c.name).filter((name) => {
    const seen = o.baseChains.get(name);
    const exp = expectedBaseComments(name);
    return !seen || seen.length !== exp.length || seen.some((c, i) => c !== exp[i]);
  });
  // The allocator reuses an observed id only for identical ranges, so present means correct.
  // Classes nobody uses any more (or that were tampered with) make the set be refilled whole.
  const addPortClasses: PortClass[] = [];
  for (const [id, ranges] of want.portClasses) if (!o.portClasses.has(id)) addPortClasses.push({ id, ranges });
  const stale = [...o.portClasses.keys()].some((id) => !want.portClasses.has(id));
  const resetPortClasses = stale ? [...want.portClasses].map(([id, ranges]) => ({ id, ranges })) : undefined;

  const addAllow: AllowEntry[] = [];
  const removeAllow: AllowEntry[] = [];
  const cuts: FlowCut[] = [];
  for (const [key, e] of want.allow) {
    const seen = o.allow.get(key);
    if (seen?.classId === e.classId) continue;
    if (seen) removeAllow.push(seen);
    addAllow.push(e);
  }
  for (const [key, seen] of o.allow) {
    const next = want.allow.get(key);
    if (!next) removeAllow.push(seen);
    if (next?.classId === seen.classId || !want.containers.has(seen.ip)) continue;
    const now = next ? (want.portClasses.get(next.classId) ?? []) : [];
    const lost = subtractRanges(observedRanges(o, seen.classId), now);
    if (lost.length > 0) cuts.push({ tag: seen.tag, ip: seen.ip, protocol: seen.protocol, ranges: lost });
  }
  const addTags: { ip: string; tag: number }[] = [];
  const removeTags: { ip: string; tag: number }[] = [];
  for (const [ip, tag] of want.tags) {
    const seen = o.tags.get(ip);
    if (seen === tag) continue;
    if (seen !== undefined) removeTags.push({ ip, tag: seen });
    addTags.push({ ip, tag });
  }
  for (const [ip, tag] of o.tags) if (!want.tags.has(ip)) removeTags.push({ ip, tag });

  const edge = planEdge(want, o);
  const delta: RuleDelta = {
    createTable: !o.present || rebuildBaseChains.length > 0,
    rebuildBaseChains,
    addPortClasses: stale ? [] : addPortClasses,
    resetPortClasses,
    addContainers: [...want.containers].filter((ip) => !o.containers.has(ip)),
    removeContainers: [...o.containers].filter((ip) => !want.containers.has(ip)),
    addTags,
    removeTags,
    addAllow,
    removeAllow,
    addOverlay: [...want.overlay].filter((c) => !o.overlay.has(c)),
    removeOverlay: [...o.overlay].filter((c) => !want.overlay.has(c)),
    ...edge,
    // Chains of an older ruleset version (v2's `prerouting`): neither a base chain nor an ASG chain.
    removeChains: [...(edge.removeChains ?? []), ...[...o.baseChains.keys()].filter((n) => !BASE_CHAIN_NAMES.has(n) && !isAsgChain(n))],
  };
  return { delta, cuts };
}
