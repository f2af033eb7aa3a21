// What one cell needs, as a pure function of the desired state: every routable lease, its own
// instances, and the policies whose source or destination app runs on it (with both tags).
// Views are compared element by element to make the deltas the stream sends. No I/O.
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

export function buildCellView(state: DesiredState, cellId: string, caBundlePem: string): CellView {
  const now = Date.now();
  const leases = new Map<string, Lease>();
  for (const l of state.leases.values()) {
    if (l.expiresAt <= now) continue;
    leases.set(l.overlaySubnet, {
      underlayIp: l.underlayIp,
      overlaySubnet: l.overlaySubnet,
      vtepMac: vtepOf(l.overlaySubnet).mac,
      cellId: l.cellId,
      expiresAt: l.expiresAt,
    });
  }
  const instances = new Map<string, Instance>();
  const apps = new Set<string>();
  for (const guid of state.instancesByCell.get(cellId) ?? []) {
    const i = state.instances.get(guid);
    if (!i) continue;
    apps.add(i.appGuid);
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
  return { leases, instances, policies, securityGroups: new Map(), caBundlePem };
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

function diffMap<T>(prev: ReadonlyMap<string, T>, next: ReadonlyMap<string, T>): { upserted: T[]; removed: string[]; removedValues: T[] } {
  const upserted: T[] = [];
  const removed: string[] = [];
  const removedValues: T[] = [];
  for (const [k, v] of next) {
    const old = prev.get(k);
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

/** The delta from prev to next, or null when they are equal. */
export function diffCellViews(prev: CellView, next: CellView): CellDelta | null {
  const leases = diffMap(prev.leases, next.leases);
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
