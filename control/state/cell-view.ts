// What one cell needs, as a pure function of the desired state: every routable lease, its own
// instances, and the policies whose source or destination app runs on it (with both tags).
// Views are compared element by element to make the deltas the stream sends. No I/O.
//
// The leases are the same for every cell, so that part is built once per set of leases and shared
// by every cell's view (with thousands of cells, rebuilding and comparing all leases per cell made
// a one-cell change cost cells x leases). Its messages are frozen and kept while unchanged, so an
// unchanged lease is the same object in the old and new view and the diff skips it by identity,
// and a change of leases is diffed once for all the cells that were sent the same lease map.
import type { LeaseRecord } from "../store/lease-store.js";
import type { SecurityGroupRecord } from "../store/security-group-store.js";
import { policyKey } from "../domain/types.js";
import { vtepOf } from "../leases/lease-pool.js";
import type { CellDelta, CellState, Instance, Lease, PolicyRule, SecurityGroup } from "../../proto/types.js";
import type { DesiredState } from "./desired-state.js";

export interface CellView {
  readonly leases: ReadonlyMap<string, Lease>;
  readonly instances: ReadonlyMap<string, Instance>;
  readonly policies: ReadonlyMap<string, PolicyRule>;
  readonly securityGroups: ReadonlyMap<string, SecurityGroup>;
  readonly caBundlePem: string;
}

export const EMPTY_VIEW: CellView = {
  leases: new Map(),
  instances: new Map(),
  policies: new Map(),
  securityGroups: new Map(),
  caBundlePem: "",
};

interface LeaseMemo {
  /** The state's lease map this view was built from (DesiredState replaces it on every change). */
  readonly source: ReadonlyMap<string, LeaseRecord>;
  readonly view: ReadonlyMap<string, Lease>;
  /** The earliest expiry among the included leases: from then on the view must be rebuilt. */
  readonly validUntil: number;
}

const leaseMemos = new WeakMap<DesiredState, LeaseMemo>();

/** Every routable (unexpired) lease as cells receive it; shared by all views of the same state. */
export function routableLeases(state: DesiredState, now = Date.now()): ReadonlyMap<string, Lease> {
  const memo = leaseMemos.get(state);
  if (memo && memo.source === state.leases && now < memo.validUntil) return memo.view;
  const view = new Map<string, Lease>();
  let validUntil = Number.POSITIVE_INFINITY;
  for (const l of state.leases.values()) {
    if (l.expiresAt <= now) continue;
    validUntil = Math.min(validUntil, l.expiresAt);
    const old = memo?.view.get(l.overlaySubnet);
    const same = old !== undefined && old.underlayIp === l.underlayIp && old.cellId === l.cellId && old.expiresAt === l.expiresAt;
    view.set(
      l.overlaySubnet,
      same
        ? old
        : Object.freeze({ underlayIp: l.underlayIp, overlaySubnet: l.overlaySubnet, vtepMac: vtepOf(l.overlaySubnet).mac, cellId: l.cellId, expiresAt: l.expiresAt }),
    );
  }
  leaseMemos.set(state, { source: state.leases, view, validUntil });
  return view;
}

const ruleMemo = new WeakMap<SecurityGroupRecord, SecurityGroup["rules"]>();
// One message per (group record, spaces listed): an unchanged group is the same object in the old
// and new view, so the diff skips it by identity instead of comparing 1,000 rules per cell.
const groupMemo = new WeakMap<SecurityGroupRecord, Map<string, SecurityGroup>>();

function protoRules(g: SecurityGroupRecord): SecurityGroup["rules"] {
  let rules = ruleMemo.get(g);
  if (!rules) {
    rules = g.rules.map((r) => ({ protocol: r.protocol, destinations: [...r.destinations], ports: r.ports, icmpType: r.icmpType, icmpCode: r.icmpCode, log: r.log, description: r.description }));
    ruleMemo.set(g, rules);
  }
  return rules;
}

/**
 * The ASGs a cell needs: every global default (a container of any space may be added there), and
 * the groups bound to a space that has instances on the cell, with only those spaces listed.
 */
export function cellSecurityGroups(state: DesiredState, spaces: ReadonlySet<string>): Map<string, SecurityGroup> {
  const out = new Map<string, SecurityGroup>();
  for (const g of state.securityGroups.values()) {
    const runningSpaces = g.runningSpaces.filter((s) => spaces.has(s));
    const stagingSpaces = g.stagingSpaces.filter((s) => spaces.has(s));
    if (!g.runningDefault && !g.stagingDefault && runningSpaces.length === 0 && stagingSpaces.length === 0) continue;
    const key = `${runningSpaces.join(",")}|${stagingSpaces.join(",")}`;
    let byKey = groupMemo.get(g);
    if (!byKey) groupMemo.set(g, (byKey = new Map<string, SecurityGroup>()));
    let msg = byKey.get(key);
    if (!msg) {
      msg = Object.freeze({ guid: g.guid, name: g.name, rules: protoRules(g), runningDefault: g.runningDefault, stagingDefault: g.stagingDefault, runningSpaces, stagingSpaces });
      if (byKey.size > 64) byKey.clear();
      byKey.set(key, msg);
    }
    out.set(g.guid, msg);
  }
  return out;
}

export function buildCellView(state: DesiredState, cellId: string, caBundlePem: string): CellView {
  const leases = routableLeases(state);
  const instances = new Map<string, Instance>();
  const apps = new Set<string>();
  const spaces = new Set<string>();
  for (const guid of state.instancesByCell.get(cellId) ?? []) {
    const i = state.instances.get(guid);
    if (!i) continue;
    apps.add(i.appGuid);
    spaces.add(i.spaceGuid);
    instances.set(guid, {
      instanceGuid: i.instanceGuid,
      appGuid: i.appGuid,
      spaceGuid: i.spaceGuid,
      orgGuid: i.orgGuid,
      index: i.index,
      overlayIp: i.overlayIp,
      ports: [...i.ports],
      lifecycle: i.lifecycle,
      cellId: i.cellId,
    });
  }
  const policies = new Map<string, PolicyRule>();
  for (const app of apps) {
    for (const p of state.policiesOfApp(app)) {
      const sourceTag = state.tags.get(p.source);
      const destTag = state.tags.get(p.destination);
      if (sourceTag === undefined || destTag === undefined) continue;
      policies.set(policyKey(p), {
        sourceApp: p.source,
        sourceTag,
        destApp: p.destination,
        destTag,
        protocol: p.protocol,
        startPort: p.startPort,
        endPort: p.endPort,
      });
    }
  }
  return { leases, instances, policies, securityGroups: cellSecurityGroups(state, spaces), caBundlePem };
}

export function toSnapshot(view: CellView): CellState {
  return {
    leases: [...view.leases.values()],
    instances: [...view.instances.values()],
    policies: [...view.policies.values()],
    securityGroups: [...view.securityGroups.values()],
    caBundlePem: view.caBundlePem,
  };
}

interface MapDiff<T> {
  readonly upserted: T[];
  readonly removed: string[];
  readonly removedValues: T[];
}

function diffMap<T>(prev: ReadonlyMap<string, T>, next: ReadonlyMap<string, T>): MapDiff<T> {
  const upserted: T[] = [];
  const removed: string[] = [];
  const removedValues: T[] = [];
  // The same map (the shared leases, unchanged since the last send): nothing to compare.
  if (prev === next) return { upserted, removed, removedValues };
  for (const [k, v] of next) {
    const old = prev.get(k);
    if (old === v) continue;
    if (old === undefined || JSON.stringify(old) !== JSON.stringify(v)) upserted.push(v);
  }
  for (const [k, v] of prev) {
    if (!next.has(k)) {
      removed.push(k);
      removedValues.push(v);
    }
  }
  return { upserted, removed, removedValues };
}

const leaseDiffs = new WeakMap<ReadonlyMap<string, Lease>, { readonly next: ReadonlyMap<string, Lease>; readonly diff: MapDiff<Lease> }>();

/** Most cells were sent the same shared lease map, so a change of leases is diffed once for all of them. */
function diffLeases(prev: ReadonlyMap<string, Lease>, next: ReadonlyMap<string, Lease>): MapDiff<Lease> {
  const hit = leaseDiffs.get(prev);
  if (hit?.next === next) return hit.diff;
  const diff = diffMap(prev, next);
  leaseDiffs.set(prev, { next, diff });
  return diff;
}

/** The delta from prev to next, or null when they are equal. */
export function diffCellViews(prev: CellView, next: CellView): CellDelta | null {
  const leases = diffLeases(prev.leases, next.leases);
  const instances = diffMap(prev.instances, next.instances);
  const policies = diffMap(prev.policies, next.policies);
  const groups = diffMap(prev.securityGroups, next.securityGroups);
  const caChanged = prev.caBundlePem !== next.caBundlePem;
  const empty =
    !caChanged &&
    [leases, instances, policies, groups].every((d) => d.upserted.length === 0 && d.removed.length === 0);
  if (empty) return null;
  return {
    leasesUpserted: leases.upserted,
    leasesRemoved: leases.removed,
    instancesUpserted: instances.upserted,
    instancesRemoved: instances.removed,
    policiesAdded: policies.upserted,
    policiesRemoved: policies.removedValues,
    securityGroupsUpserted: groups.upserted,
    securityGroupsRemoved: groups.removed,
    caBundlePem: caChanged ? next.caBundlePem : "",
  };
}
