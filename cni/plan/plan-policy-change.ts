// The fast path for one policy change: plans only the (source tag, destination app, protocol)
// groups the change names, against the reconciler's model, so its cost follows what changed and
// not how many policies the cell has. For those groups it emits what planFilter would; port
// classes that nothing uses any more are left for the next full reconcile to remove (an
// unreferenced class matches nothing).
import { allowKey, emptyDelta, type AllowEntry, type FlowCut, type ObservedFilter, type PortClass } from "../kernel/kernel-types.js";
import { mergeRanges, subtractRanges, type PortRange } from "../kernel/port-ranges.js";
import type { DesiredCell, DesiredPolicy } from "./desired-state.js";
import { observedRanges, type FilterPlan } from "./plan-filter.js";
import { PortClassAllocator } from "./port-classes.js";

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

  const classes = new PortClassAllocator(model.portClasses);
  const addPortClasses: PortClass[] = [];
  const addAllow: AllowEntry[] = [];
  const removeAllow: AllowEntry[] = [];
  const cuts: FlowCut[] = [];
  for (const g of groups.values()) {
    const ranges = mergeRanges(g.ranges);
    const classId = ranges.length > 0 ? classes.idFor(ranges) : undefined;
    if (classId !== undefined && !model.portClasses.has(classId) && !addPortClasses.some((c) => c.id === classId)) {
      addPortClasses.push({ id: classId, ranges });
    }
    for (const c of d.containers) {
      if (c.appGuid !== g.app) continue;
      const seen = model.allow.get(allowKey(g.tag, c.ip, g.protocol));
      if (seen?.classId === classId) continue;
      if (seen) {
        removeAllow.push(seen);
        const lost = subtractRanges(observedRanges(model, seen.classId), ranges);
        if (lost.length > 0) cuts.push({ tag: g.tag, ip: c.ip, protocol: g.protocol, ranges: lost });
      }
      if (classId !== undefined) addAllow.push({ tag: g.tag, ip: c.ip, protocol: g.protocol, classId });
    }
  }
  return { delta: { ...emptyDelta(), addPortClasses, addAllow, removeAllow }, cuts };
}
