// The fast path for one policy change: plans only the (source tag, destination app, protocol)
// groups the change names, against the reconciler's model, so its cost follows what changed and
// not how many policies the cell has. For those groups it emits exactly what planFilter would;
// port chains that nothing uses any more are left for the next full reconcile to delete
// (an unreferenced chain matches nothing).
import { allowKey, emptyDelta, type AllowEntry, type FlowCut, type ObservedFilter, type PortChainSpec } from "../kernel/kernel-types.js";
import { portChainName } from "../kernel/nft-ruleset.js";
import { mergeRanges, sameRanges, subtractRanges, type PortRange } from "../kernel/port-ranges.js";
import type { DesiredCell, DesiredPolicy } from "./desired-state.js";
import { observedRanges, type FilterPlan } from "./plan-filter.js";

export interface PolicyChange {
  readonly added: readonly DesiredPolicy[];
  readonly removed: readonly DesiredPolicy[];
}

const groupKey = (tag: number, app: string, protocol: string): string => `${tag}|${app}|${protocol}`;

/** `d` is the desired state after the change (it already holds `added` and lacks `removed`). */
export function planPolicyChange(d: DesiredCell, model: ObservedFilter, change: PolicyChange): FilterPlan {
  const touched = [...change.added, ...change.removed];
  const groups = new Map<string, { tag: number; app: string; protocol: "tcp" | "udp"; ranges: PortRange[] }>();
  for (const p of touched) groups.set(groupKey(p.sourceTag, p.destAppGuid, p.protocol), { tag: p.sourceTag, app: p.destAppGuid, protocol: p.protocol, ranges: [] });
  const tags = new Set(touched.map((p) => p.sourceTag));
  for (const p of d.policies) {
    if (!tags.has(p.sourceTag)) continue;
    groups.get(groupKey(p.sourceTag, p.destAppGuid, p.protocol))?.ranges.push(p.ports);
  }

  const putPortChains: PortChainSpec[] = [];
  const addAllow: AllowEntry[] = [];
  const removeAllow: AllowEntry[] = [];
  const cuts: FlowCut[] = [];
  for (const g of groups.values()) {
    const ranges = mergeRanges(g.ranges);
    const chain = ranges.length > 0 ? portChainName(ranges) : undefined;
    if (chain && !putPortChains.some((p) => p.name === chain)) {
      const seen = model.portChains.get(chain);
      if (!seen || !sameRanges(seen, ranges)) putPortChains.push({ name: chain, ranges });
    }
    for (const c of d.containers) {
      if (c.appGuid !== g.app) continue;
      const seen = model.allow.get(allowKey(g.tag, c.ip, g.protocol));
      if (seen?.chain === chain) continue;
      if (seen) {
        removeAllow.push(seen);
        const lost = subtractRanges(mergeRanges(observedRanges(model, seen.chain)), ranges);
        if (lost.length > 0) cuts.push({ tag: g.tag, ip: c.ip, protocol: g.protocol, ranges: lost });
      }
      if (chain) addAllow.push({ tag: g.tag, ip: c.ip, protocol: g.protocol, chain });
    }
  }
  return { delta: { ...emptyDelta(), putPortChains, addAllow, removeAllow }, cuts };
}
