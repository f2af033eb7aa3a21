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
import { BASE_CHAINS, expectedBaseComments } from "../kernel/nft-ruleset.js";
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
  return { containers, tags, allow, portClasses, overlay: new Set([d.overlayCidr]) };
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
  };
  return { delta, cuts };
}
