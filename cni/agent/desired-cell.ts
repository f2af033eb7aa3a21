// Turns what control sent (leases, policies with tags) and the containers of this cell into the
// DesiredCell the reconciler drives the kernel to. Pure.
import type { SecurityGroup } from "../../proto/types.js";
import { compileAsgChain, type CompiledChain } from "../plan/asg-compile.js";
import type { DesiredCell, DesiredContainer, DesiredEgress, DesiredPolicy, HostService } from "../plan/desired-state.js";
import type { ContainerRecord } from "./container-store.js";
import type { ControlState } from "./control-state.js";

export interface CellIdentity {
  readonly overlayCidr: string;
  readonly lease: { readonly subnet: string; readonly underlayIp: string };
  readonly underlayDev: string;
  readonly dnsIp: string;
  readonly containerMtu?: number;
  readonly hostServices?: readonly HostService[];
  readonly asgLogging?: boolean;
}

/** The ASGs that apply to a container: CF's running or staging defaults plus its space's bindings. */
export function groupsFor(groups: Iterable<SecurityGroup>, spaceGuid: string, lifecycle: string): SecurityGroup[] {
  const staging = lifecycle === "staging";
  const out: SecurityGroup[] = [];
  for (const g of groups) {
    const applies = staging
      ? g.stagingDefault || g.stagingSpaces.includes(spaceGuid)
      : g.runningDefault || g.runningSpaces.includes(spaceGuid);
    if (applies) out.push(g);
  }
  return out.sort((a, b) => (a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0));
}

interface ChainMemo {
  readonly groups: readonly SecurityGroup[];
  readonly chain: CompiledChain;
}
// Compiling a 1,000-rule set takes milliseconds, and an unchanged group is the same object in
// ControlState, so a set is compiled again only when one of its groups changed.
const chainMemo = new Map<string, ChainMemo>();

/** Every container's ASG chain: shared per distinct set (per app when its lines must name the app). */
export function desiredEgress(groups: readonly SecurityGroup[], containers: readonly ContainerRecord[], logAll: boolean): DesiredEgress & { skipped: string[] } {
  const chains = new Map<string, readonly string[]>();
  const byIp = new Map<string, string>();
  const skipped: string[] = [];
  const used = new Set<string>();
  for (const c of containers) {
    const set = groupsFor(groups, c.metadata.spaceGuid, c.metadata.lifecycle);
    const logs = logAll || set.some((g) => g.rules.some((r) => r.log));
    const m = c.metadata;
    const key = set.map((g) => g.guid).join(",") + (logs ? `|${m.appGuid}|${m.spaceGuid}|${m.orgGuid}|${logAll}` : "");
    used.add(key);
    let memo = chainMemo.get(key);
    if (!memo || memo.groups.length !== set.length || memo.groups.some((g, i) => g !== set[i])) {
      const rules = set.flatMap((g) => g.rules);
      const chain = compileAsgChain(rules, {
        logAll,
        ...(logs ? { identity: { appGuid: m.appGuid, spaceGuid: m.spaceGuid, orgGuid: m.orgGuid } } : {}),
      });
      memo = { groups: set, chain };
      chainMemo.set(key, memo);
      skipped.push(...chain.skipped);
    }
    chains.set(memo.chain.name, memo.chain.rules);
    byIp.set(c.ip, memo.chain.name);
  }
  for (const k of [...chainMemo.keys()]) if (!used.has(k)) chainMemo.delete(k);
  return { chains, byIp, skipped };
}

export function desiredCell(id: CellIdentity, state: ControlState, containers: readonly ContainerRecord[]): DesiredCell {
  const tags = state.tags();
  const local = new Set(containers.map((c) => c.metadata.appGuid));
  const policies: DesiredPolicy[] = [];
  for (const p of state.policies.values()) {
    if (!local.has(p.destApp)) continue;
    if (p.protocol !== "tcp" && p.protocol !== "udp") continue;
    policies.push({ sourceTag: p.sourceTag, destAppGuid: p.destApp, protocol: p.protocol, ports: { start: p.startPort, end: p.endPort } });
  }
  const desiredContainers: DesiredContainer[] = containers.map((c) => ({
    id: c.containerId,
    ip: c.ip,
    netns: c.netns,
    appGuid: c.metadata.appGuid,
    tag: tags.get(c.metadata.appGuid),
    ifName: c.ifname,
    portMappings: c.portMappings.map((m) => ({ hostPort: m.hostPort, containerPort: m.containerPort, protocol: m.protocol })),
  }));
  const egress = desiredEgress([...state.securityGroups.values()], containers, id.asgLogging === true);
  return {
    overlayCidr: id.overlayCidr,
    lease: id.lease,
    underlayDev: id.underlayDev,
    remoteLeases: [...state.leases.values()].map((l) => ({ subnet: l.overlaySubnet, underlayIp: l.underlayIp })),
    containers: desiredContainers,
    policies,
    dnsIp: id.dnsIp,
    ...(id.containerMtu !== undefined ? { containerMtu: id.containerMtu } : {}),
    egress,
    hostServices: id.hostServices ?? [],
  };
}
