// What the kernel looks like after a list of operations succeeded, computed without asking it.
// The reconciler uses this as its model between full observations (so one policy change is
// planned and applied without dumping a 50,000-element table), and the recording fake uses it as
// its state.
import {
  allowKey,
  type AllowEntry,
  type ObservedCell,
  type ObservedFilter,
  type ObservedHostVeth,
  type RuleDelta,
} from "../kernel/kernel-types.js";
import type { PortRange } from "../kernel/port-ranges.js";
import { BASE_CHAIN_NAMES, asgRuleComment, expectedBaseComments } from "../kernel/nft-ruleset.js";
import type { Operation } from "./desired-state.js";

/** The filter part of a model whose maps the caller owns and may change in place. */
export interface MutableFilter {
  present: boolean;
  baseChains: Map<string, readonly string[]>;
  portClasses: Map<number, readonly PortRange[]>;
  containers: Set<string>;
  tags: Map<string, number>;
  allow: Map<string, AllowEntry>;
  overlay: Set<string>;
  elements: Map<string, Map<string, string>>;
}

export function cloneFilter(f: ObservedFilter): MutableFilter {
  return {
    present: f.present,
    baseChains: new Map(f.baseChains),
    portClasses: new Map(f.portClasses),
    containers: new Set(f.containers),
    tags: new Map(f.tags),
    allow: new Map(f.allow),
    overlay: new Set(f.overlay),
    elements: new Map([...f.elements].map(([k, v]) => [k, new Map(v)])),
  };
}

/** Applies a delta without copying: one policy change costs what it touches, not the table size. */
export function applyDeltaInPlace(f: MutableFilter, d: RuleDelta): void {
  f.present ||= d.createTable;
  for (const name of d.rebuildBaseChains) if (BASE_CHAIN_NAMES.has(name)) f.baseChains.set(name, expectedBaseComments(name));
  if (d.resetPortClasses) f.portClasses = new Map(d.resetPortClasses.map((c) => [c.id, c.ranges]));
  for (const c of d.addPortClasses) f.portClasses.set(c.id, c.ranges);
  for (const ip of d.removeContainers) f.containers.delete(ip);
  for (const ip of d.addContainers) f.containers.add(ip);
  for (const t of d.removeTags) f.tags.delete(t.ip);
  for (const t of d.addTags) f.tags.set(t.ip, t.tag);
  for (const e of d.removeAllow) f.allow.delete(allowKey(e.tag, e.ip, e.protocol));
  for (const e of d.addAllow) f.allow.set(allowKey(e.tag, e.ip, e.protocol), e);
  for (const c of d.removeOverlay) f.overlay.delete(c);
  for (const c of d.addOverlay) f.overlay.add(c);
  for (const c of d.addChains ?? []) f.baseChains.set(c.name, c.rules.map((_, i) => asgRuleComment(i, c.rules.length)));
  for (const e of d.removeElements ?? []) f.elements.get(e.set)?.delete(e.key);
  for (const e of d.addElements ?? []) {
    let m = f.elements.get(e.set);
    if (!m) f.elements.set(e.set, (m = new Map<string, string>()));
    m.set(e.key, e.text);
  }
  for (const name of d.removeChains ?? []) f.baseChains.delete(name);
}

function applyDelta(f: ObservedFilter, d: RuleDelta): ObservedFilter {
  const out = cloneFilter(f);
  applyDeltaInPlace(out, d);
  return out;
}

export function applyOperation(s: ObservedCell, op: Operation): ObservedCell {
  switch (op.kind) {
    case "ensureCellBase":
      return {
        ...s,
        ipForward: true,
        loopbackAddresses: s.loopbackAddresses.includes(op.spec.dnsIp)
          ? s.loopbackAddresses
          : [...s.loopbackAddresses, op.spec.dnsIp],
      };
    case "ensureVtep": {
      const v = op.spec;
      const vtep = {
        vni: v.vni,
        port: v.port,
        gbp: true,
        learning: false,
        local: v.underlayIp,
        underlayDev: v.underlayDev,
        mtu: v.mtu,
        mac: v.mac,
        up: true,
        addresses: [`${v.address}/32`],
      };
      const fresh = op.recreate || s.vtep === undefined;
      return fresh
        ? { ...s, vtep, vtepRoutes: new Map(), vtepNeighbours: new Map(), vtepFdb: new Map() }
        : { ...s, vtep };
    }
    case "setRemoteLease": {
      const l = op.lease;
      return {
        ...s,
        vtepRoutes: new Map(s.vtepRoutes).set(l.subnet, l.vtepIp),
        vtepNeighbours: new Map(s.vtepNeighbours).set(l.vtepIp, l.mac),
        vtepFdb: new Map(s.vtepFdb).set(l.mac, l.underlayIp),
      };
    }
    case "removeRemoteLease": {
      const routes = new Map(s.vtepRoutes);
      const neigh = new Map(s.vtepNeighbours);
      const fdb = new Map(s.vtepFdb);
      if (op.lease.subnet) routes.delete(op.lease.subnet);
      if (op.lease.vtepIp) neigh.delete(op.lease.vtepIp);
      if (op.lease.mac) fdb.delete(op.lease.mac);
      return { ...s, vtepRoutes: routes, vtepNeighbours: neigh, vtepFdb: fdb };
    }
    case "createContainerVeth":
    case "repairContainerHost": {
      const c = op.spec;
      const veth: ObservedHostVeth = {
        hostIf: c.hostIf,
        ip: c.ip,
        mac: c.hostMac,
        up: true,
        peerAddress: true,
        neighbourMac: c.containerMac,
      };
      return { ...s, hostVeths: new Map(s.hostVeths).set(c.hostIf, veth) };
    }
    case "deleteContainerVeth": {
      const hostVeths = new Map(s.hostVeths);
      hostVeths.delete(op.hostIf);
      return { ...s, hostVeths };
    }
    case "applyRuleDelta":
      return { ...s, filter: applyDelta(s.filter, op.delta) };
    case "flushConntrack":
      return s;
  }
}

export function applyOperations(s: ObservedCell, ops: readonly Operation[]): ObservedCell {
  return ops.reduce(applyOperation, s);
}
