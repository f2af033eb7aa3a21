// The fast path for containers added to or removed from the cell (CNI ADD and DEL): plans only
// those containers' IPs against the reconciler's model, using the policy index for the groups
// whose destination is their app, so an ADD on a cell with 50,000 policies costs what one
// container touches. Same order as the full plan: removed veths first, then one rule transaction
// (a new IP is in the default-reject set before its veth exists), then new veths.
import { allowKey, emptyDelta, type AllowEntry, type ObservedCell, type PortClass } from "../kernel/kernel-types.js";
import { mergeRanges } from "../kernel/port-ranges.js";
import type { DesiredCell, DesiredContainer, Operation } from "./desired-state.js";
import { containerSpec, vtepSpec } from "./plan-links.js";
import type { PolicyIndex } from "./policy-index.js";
import { desiredEdge, planEdge } from "./plan-filter.js";
import { PortClassAllocator } from "./port-classes.js";

export interface ContainerChange {
  readonly added: readonly DesiredContainer[];
  readonly removed: readonly DesiredContainer[];
}

export function planContainerChange(
  d: DesiredCell,
  model: ObservedCell,
  change: ContainerChange,
  index: PolicyIndex,
): Operation[] {
  const classes = new PortClassAllocator(model.filter.portClasses);
  const addPortClasses: PortClass[] = [];
  const addAllow: AllowEntry[] = [];
  const removeAllow: AllowEntry[] = [];
  const addTags: { ip: string; tag: number }[] = [];
  const removeTags: { ip: string; tag: number }[] = [];
  const f = model.filter;

  for (const c of change.removed) {
    const tag = f.tags.get(c.ip);
    if (tag !== undefined) removeTags.push({ ip: c.ip, tag });
    for (const g of index.groupsOf(c.appGuid)) {
      const seen = f.allow.get(allowKey(g.tag, c.ip, g.protocol));
      if (seen) removeAllow.push(seen);
    }
  }
  for (const c of change.added) {
    const seenTag = f.tags.get(c.ip);
    if (c.tag !== undefined && c.tag > 0 && seenTag !== c.tag) {
      if (seenTag !== undefined) removeTags.push({ ip: c.ip, tag: seenTag });
      addTags.push({ ip: c.ip, tag: c.tag });
    }
    for (const g of index.groupsOf(c.appGuid)) {
      const ranges = mergeRanges(g.ranges);
      const classId = classes.idFor(ranges);
      if (!f.portClasses.has(classId) && !addPortClasses.some((p) => p.id === classId)) addPortClasses.push({ id: classId, ranges });
      const seen = f.allow.get(allowKey(g.tag, c.ip, g.protocol));
      if (seen?.classId !== classId) {
        if (seen) removeAllow.push(seen);
        addAllow.push({ tag: g.tag, ip: c.ip, protocol: g.protocol, classId });
      }
    }
  }
  const delta = {
    ...emptyDelta(),
    addPortClasses,
    addContainers: change.added.map((c) => c.ip).filter((ip) => !f.containers.has(ip)),
    removeContainers: change.removed.map((c) => c.ip).filter((ip) => f.containers.has(ip)),
    addTags,
    removeTags,
    addAllow,
    removeAllow,
    // Egress chains, port mappings and host services: what the cell's containers need, diffed
    // against the model (a few elements per container, independent of the policy count).
    ...planEdge(desiredEdge(d), f),
  };
  const mtu = d.containerMtu ?? vtepSpec(d, model.underlayMtu ?? 1500).mtu;
  const ops: Operation[] = [];
  for (const c of change.removed) {
    const hostIf = containerSpec(c, mtu).hostIf;
    if (model.hostVeths.has(hostIf)) ops.push({ kind: "deleteContainerVeth", hostIf });
  }
  const changed = Object.values(delta).some((v) => Array.isArray(v) && v.length > 0);
  if (changed) ops.push({ kind: "applyRuleDelta", delta });
  for (const c of change.added) {
    const spec = containerSpec(c, mtu);
    if (!model.hostVeths.has(spec.hostIf)) ops.push({ kind: "createContainerVeth", spec });
  }
  return ops;
}
