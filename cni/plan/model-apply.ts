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
import { BASE_CHAIN_NAMES, expectedBaseComments } from "../kernel/nft-ruleset.js";
import type { Operation } from "./desired-state.js";

function applyDelta(f: ObservedFilter, d: RuleDelta): ObservedFilter {
  const baseChains = new Map(f.baseChains);
  for (const name of d.rebuildBaseChains) if (BASE_CHAIN_NAMES.has(name)) baseChains.set(name, expectedBaseComments(name));
  const portChains = new Map<string, readonly PortRange[] | undefined>(f.portChains);
  for (const p of d.putPortChains) portChains.set(p.name, p.ranges);
  for (const n of d.deletePortChains) portChains.delete(n);
  const containers = new Set(f.containers);
  for (const ip of d.removeContainers) containers.delete(ip);
  for (const ip of d.addContainers) containers.add(ip);
  const tags = new Map(f.tags);
  for (const t of d.removeTags) tags.delete(t.ip);
  for (const t of d.addTags) tags.set(t.ip, t.tag);
  const allow = new Map<string, AllowEntry>(f.allow);
  for (const e of d.removeAllow) allow.delete(allowKey(e.tag, e.ip, e.protocol));
  for (const e of d.addAllow) allow.set(allowKey(e.tag, e.ip, e.protocol), e);
  const overlay = new Set(f.overlay);
  for (const c of d.removeOverlay) overlay.delete(c);
  for (const c of d.addOverlay) overlay.add(c);
  return { present: f.present || d.createTable, baseChains, portChains, containers, tags, allow, overlay };
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
