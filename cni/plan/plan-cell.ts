// The planner: desired cell + observed kernel state -> the operations that converge it, in
// make-before-break order. Pure; nothing is emitted when the kernel already matches.
//
//   1. cell base (forwarding, DNS address), VTEP, then remote leases added or fixed;
//   2. veths of containers that are gone (their pair goes first, so no stale IP is reachable);
//   3. one nftables transaction: new container IPs enter the default-reject set before their
//      veth exists, policies are added and removed atomically;
//   4. conntrack cuts for whatever a removed policy allowed;
//   5. veths of new containers (already protected), host-side repairs;
//   6. remote leases that are gone, last, so traffic keeps flowing while anything else changes.
import { TAG_MAX, cidrContains, ipToInt, parseCidr } from "../kernel/names.js";
import { isEmptyDelta } from "../kernel/nft-ruleset.js";
import type { ObservedCell } from "../kernel/kernel-types.js";
import { validatePortRange } from "../kernel/port-ranges.js";
import type { DesiredCell, Operation, PlanResult } from "./desired-state.js";
import { planFilter } from "./plan-filter.js";
import { planLinks } from "./plan-links.js";

/** Returns a reason when the desired state cannot be programmed as given. */
export function validateDesired(d: DesiredCell): string | undefined {
  try {
    parseCidr(d.overlayCidr);
    const lease = parseCidr(d.lease.subnet);
    ipToInt(d.lease.underlayIp);
    for (const l of d.remoteLeases) {
      parseCidr(l.subnet);
      ipToInt(l.underlayIp);
    }
    const ips = new Set<string>();
    for (const c of d.containers) {
      if (!cidrContains(d.lease.subnet, c.ip) || ipToInt(c.ip) === ipToInt(lease.network)) {
        return `container ${c.id} has ${c.ip}, outside the lease ${d.lease.subnet}`;
      }
      if (ips.has(c.ip)) return `IP ${c.ip} is given to two containers`;
      ips.add(c.ip);
      if (c.tag !== undefined && (!Number.isInteger(c.tag) || c.tag < 0 || c.tag > TAG_MAX)) {
        return `container ${c.id} has tag ${c.tag}, outside 0..${TAG_MAX}`;
      }
    }
    for (const p of d.policies) {
      if (!Number.isInteger(p.sourceTag) || p.sourceTag < 1 || p.sourceTag > TAG_MAX) {
        return `policy source tag ${p.sourceTag} is outside 1..${TAG_MAX}`;
      }
      validatePortRange(p.ports);
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return undefined;
}

export function planCell(d: DesiredCell, o: ObservedCell): PlanResult {
  const invalid = validateDesired(d);
  if (invalid) return { kind: "blocked", reason: invalid };
  const underlayMtu = o.underlayMtu;
  if (underlayMtu === undefined) return { kind: "blocked", reason: `underlay device ${d.underlayDev} not found` };
  const links = planLinks(d, o, underlayMtu);
  const filter = planFilter(d, o.filter);
  const ops: Operation[] = [
    ...links.base,
    ...links.vtep,
    ...links.setLeases,
    ...links.deleteContainers,
    ...(isEmptyDelta(filter.delta) ? [] : [{ kind: "applyRuleDelta" as const, delta: filter.delta }]),
    ...(filter.cuts.length > 0 ? [{ kind: "flushConntrack" as const, cuts: filter.cuts }] : []),
    ...links.createContainers,
    ...links.removeLeases,
  ];
  return { kind: "ops", ops };
}
