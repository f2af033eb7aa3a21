// The fast path for one policy change: plans only the (source tag, destination app, protocol)
// groups the change names, against the reconciler's model and a policy index kept up to date
// with each change, so its cost follows what changed and not how many policies the cell has.
// For those groups it emits what planFilter would; port classes that nothing uses any more are
// left for the next full reconcile to remove (an unreferenced class matches nothing).
import { allowKey, emptyDelta, type AllowEntry, type FlowCut, type ObservedFilter, type PortClass } from "../kernel/kernel-types.js";
import { mergeRanges, subtractRanges } from "../kernel/port-ranges.js";
import type { DesiredCell } from "./desired-state.js";
import { observedRanges, type FilterPlan } from "./plan-filter.js";
import { groupKey, type PolicyChange, type PolicyIndex } from "./policy-index.js";
import { PortClassAllocator } from "./port-classes.js";

export type { PolicyChange };

/**
 * Plans `change` for the groups it names. `index` already holds the change; `d` supplies the
 * local containers (its policies are not read, so the cost does not grow with them).
 */
export function planPolicyChange(d: DesiredCell, model: ObservedFilter, change: PolicyChange, index: PolicyIndex): FilterPlan {
  const groups = new Map<string, { tag: number; app: string; protocol: "tcp" | "udp" }>();
  for (const p of [...change.added, ...change.removed]) {
    groups.set(groupKey(p.sourceTag, p.destAppGuid, p.protocol), { tag: p.sourceTag, app: p.destAppGuid, protocol: p.protocol });
  }

  const classes = new PortClassAllocator(model.portClasses);
  const addPortClasses: PortClass[] = [];
  const addAllow: AllowEntry[] = [];
  const removeAllow: AllowEntry[] = [];
  const cuts: FlowCut[] = [];
  for (const g of groups.values()) {
    const ranges = mergeRanges(index.ranges(g.tag, g.app, g.protocol));
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
