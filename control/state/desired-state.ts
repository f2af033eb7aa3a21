// The control plane's in-memory picture of the desired state, with the indexes the per-cell
// fan-out needs (app -> policies, app -> cells, cell -> instances). It is fed slices read from the
// store (full, or the apps/cells a change touched) and answers which cells a slice affects.
// Nothing here does I/O.
import type { Policy } from "../domain/types.js";
import { policyKey } from "../domain/types.js";
import type { InstanceRecord } from "../store/instance-store.js";
import type { LeaseRecord } from "../store/lease-store.js";
import type { SecurityGroupRecord } from "../store/security-group-store.js";
import type { AppInfo, StateSlice } from "../store/state-reader.js";
import type { CreatedDelta } from "../store/write-batcher.js";

export interface Affected {
  readonly revision: number;
  /** "all": every cell (leases changed, or a full reload). */
  readonly cells: ReadonlySet<string> | "all";
  readonly apps: ReadonlySet<string> | "all";
  readonly kinds: ReadonlySet<string>;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set && set.delete(value) && set.size === 0) map.delete(key);
}

export class DesiredState {
  revision = 0;
  readonly apps = new Map<string, AppInfo>();
  readonly tags = new Map<string, number>();
  readonly policies = new Map<string, Policy>();
  readonly bySource = new Map<string, Set<string>>();
  readonly byDest = new Map<string, Set<string>>();
  readonly instances = new Map<string, InstanceRecord>();
  readonly instancesByCell = new Map<string, Set<string>>();
  readonly instancesByApp = new Map<string, Set<string>>();
  readonly routesByApp = new Map<string, Set<string>>();
  readonly appByRoute = new Map<string, string>();
  leases = new Map<string, LeaseRecord>();
  /** Every app security group by guid (replaced whole when any changes). */
  securityGroups = new Map<string, SecurityGroupRecord>();

  /** Cells that run at least one instance of the app. */
  cellsOfApp(app: string): Set<string> {
    const out = new Set<string>();
    for (const guid of this.instancesByApp.get(app) ?? []) {
      const inst = this.instances.get(guid);
      if (inst) out.add(inst.cellId);
    }
    return out;
  }

  appsOnCell(cell: string): Set<string> {
    const out = new Set<string>();
    for (const guid of this.instancesByCell.get(cell) ?? []) {
      const inst = this.instances.get(guid);
      if (inst) out.add(inst.appGuid);
    }
    return out;
  }

  policiesOfApp(app: string): Policy[] {
    const out: Policy[] = [];
    for (const k of this.bySource.get(app) ?? []) out.push(this.policies.get(k)!);
    for (const k of this.byDest.get(app) ?? []) {
      const p = this.policies.get(k)!;
      if (p.source !== app) out.push(p);
    }
    return out;
  }

  /** Applies a slice and returns what it affected. */
  apply(slice: StateSlice): Affected {
    const before = new Set<string>();
    if (slice.apps === null) {
      this.clear();
    } else {
      for (const a of slice.apps) for (const c of this.cellsOfApp(a)) before.add(c);
      for (const a of slice.apps) this.dropApp(a);
      for (const c of slice.cells) this.dropCellInstances(c);
    }
    for (const a of slice.appRows) this.apps.set(a.guid, a);
    for (const [guid, tag] of slice.tags) this.tags.set(guid, tag);
    for (const p of slice.policies) this.addPolicy(p);
    for (const [host, app] of slice.routes) {
      addTo(this.routesByApp, app, host);
      this.appByRoute.set(host, app);
    }
    for (const inst of slice.instances) this.addInstance(inst);
    if (slice.leases) this.leases = new Map(slice.leases.map((l) => [l.overlaySubnet, l]));
    if (slice.securityGroups) this.securityGroups = new Map(slice.securityGroups.map((g) => [g.guid, g]));
    this.revision = Math.max(this.revision, slice.revision);

    // A group change can touch any cell (defaults apply everywhere); each cell's view is rebuilt
    // and only cells whose own ASGs changed get a delta.
    if (slice.apps === null || slice.leasesChanged || slice.securityGroups) return { revision: this.revision, cells: "all", apps: slice.apps === null ? "all" : new Set(slice.apps), kinds: slice.kinds };
    const cells = new Set([...before, ...slice.cells]);
    for (const a of slice.apps) for (const c of this.cellsOfApp(a)) cells.add(c);
    const apps = new Set(slice.apps);
    for (const c of slice.cells) for (const a of this.appsOnCell(c)) apps.add(a);
    return { revision: this.revision, cells, apps, kinds: slice.kinds };
  }

  /**
   * Applies a batch of creates and app upserts this replica committed (revisions
   * delta.first..delta.last, which must follow this state's revision), with the same outcome and
   * the same Affected as reading those revisions back: the policies, claimed tags and app rows are
   * set, routes and instances are untouched, and the cells affected are those running the apps
   * the writes named.
   */
  applyCreated(delta: CreatedDelta): Affected {
    if (delta.first !== this.revision + 1) throw new Error(`delta ${delta.first}..${delta.last} does not follow revision ${this.revision}`);
    for (const a of delta.appRows) this.apps.set(a.guid, a);
    for (const [guid, tag] of delta.tags) this.tags.set(guid, tag);
    for (const p of delta.policies) this.addPolicy(p);
    this.revision = delta.last;
    const cells = new Set<string>();
    for (const a of delta.apps) for (const c of this.cellsOfApp(a)) cells.add(c);
    return { revision: this.revision, cells, apps: new Set(delta.apps), kinds: new Set(delta.kinds) };
  }

  private clear(): void {
    for (const m of [this.apps, this.tags, this.policies, this.bySource, this.byDest, this.instances, this.instancesByCell, this.instancesByApp, this.routesByApp, this.appByRoute]) {
      m.clear();
    }
    this.leases = new Map();
    this.securityGroups = new Map();
  }

  private dropApp(app: string): void {
    this.apps.delete(app);
    this.tags.delete(app);
    for (const k of [...(this.bySource.get(app) ?? []), ...(this.byDest.get(app) ?? [])]) this.removePolicy(k);
    for (const host of this.routesByApp.get(app) ?? []) this.appByRoute.delete(host);
    this.routesByApp.delete(app);
    for (const guid of [...(this.instancesByApp.get(app) ?? [])]) this.removeInstance(guid);
  }

  private dropCellInstances(cell: string): void {
    for (const guid of [...(this.instancesByCell.get(cell) ?? [])]) this.removeInstance(guid);
  }

  private addPolicy(p: Policy): void {
    const k = policyKey(p);
    this.policies.set(k, p);
    addTo(this.bySource, p.source, k);
    addTo(this.byDest, p.destination, k);
  }

  private removePolicy(k: string): void {
    const p = this.policies.get(k);
    if (!p) return;
    this.policies.delete(k);
    removeFrom(this.bySource, p.source, k);
    removeFrom(this.byDest, p.destination, k);
  }

  private addInstance(inst: InstanceRecord): void {
    this.removeInstance(inst.instanceGuid);
    this.instances.set(inst.instanceGuid, inst);
    addTo(this.instancesByCell, inst.cellId, inst.instanceGuid);
    addTo(this.instancesByApp, inst.appGuid, inst.instanceGuid);
  }

  private removeInstance(guid: string): void {
    const inst = this.instances.get(guid);
    if (!inst) return;
    this.instances.delete(guid);
    removeFrom(this.instancesByCell, inst.cellId, guid);
    removeFrom(this.instancesByApp, inst.appGuid, guid);
  }
}
