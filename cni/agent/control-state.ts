// The desired state control sends this cell (snapshot, then deltas), kept as maps. Applying a
// message never touches the kernel; the agent turns this into a DesiredCell and reconciles.
import type { ControlMessage, Instance, Lease, PolicyRule, SecurityGroup } from "../../proto/types.js";

export const ruleKey = (p: PolicyRule): string => `${p.sourceApp}|${p.destApp}|${p.protocol}|${p.startPort}|${p.endPort}`;

export class ControlState {
  readonly leases = new Map<string, Lease>();
  readonly instances = new Map<string, Instance>();
  readonly policies = new Map<string, PolicyRule>();
  readonly securityGroups = new Map<string, SecurityGroup>();
  caBundlePem = "";
  /** The revision of the last snapshot or delta applied here (not necessarily enforced yet). */
  revision = 0;
  hasSnapshot = false;

  apply(msg: ControlMessage): void {
    if (msg.kind === "snapshot" && msg.snapshot) {
      const s = msg.snapshot;
      this.leases.clear();
      this.instances.clear();
      this.policies.clear();
      this.securityGroups.clear();
      for (const l of s.leases) this.leases.set(l.overlaySubnet, l);
      for (const i of s.instances) this.instances.set(i.instanceGuid, i);
      for (const p of s.policies) this.policies.set(ruleKey(p), p);
      for (const g of s.securityGroups) this.securityGroups.set(g.guid, g);
      this.caBundlePem = s.caBundlePem;
      this.hasSnapshot = true;
    } else if (msg.kind === "delta" && msg.delta) {
      const d = msg.delta;
      for (const l of d.leasesUpserted) this.leases.set(l.overlaySubnet, l);
      for (const k of d.leasesRemoved) this.leases.delete(k);
      for (const i of d.instancesUpserted) this.instances.set(i.instanceGuid, i);
      for (const k of d.instancesRemoved) this.instances.delete(k);
      for (const p of d.policiesAdded) this.policies.set(ruleKey(p), p);
      for (const p of d.policiesRemoved) this.policies.delete(ruleKey(p));
      for (const g of d.securityGroupsUpserted) this.securityGroups.set(g.guid, g);
      for (const k of d.securityGroupsRemoved) this.securityGroups.delete(k);
      if (d.caBundlePem) this.caBundlePem = d.caBundlePem;
    }
    if (msg.revision > this.revision) this.revision = msg.revision;
  }

  /** Tags of apps in policies that touch this cell (source and destination tags). */
  tags(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.policies.values()) {
      out.set(p.sourceApp, p.sourceTag);
      out.set(p.destApp, p.destTag);
    }
    return out;
  }
}
