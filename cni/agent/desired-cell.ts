// Turns what control sent (leases, policies with tags) and the containers of this cell into the
// DesiredCell the reconciler drives the kernel to. Pure.
import type { DesiredCell, DesiredContainer, DesiredPolicy } from "../plan/desired-state.js";
import type { ContainerRecord } from "./container-store.js";
import type { ControlState } from "./control-state.js";

export interface CellIdentity {
  readonly overlayCidr: string;
  readonly lease: { readonly subnet: string; readonly underlayIp: string };
  readonly underlayDev: string;
  readonly dnsIp: string;
  readonly containerMtu?: number;
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
  }));
  return {
    overlayCidr: id.overlayCidr,
    lease: id.lease,
    underlayDev: id.underlayDev,
    remoteLeases: [...state.leases.values()].map((l) => ({ subnet: l.overlaySubnet, underlayIp: l.underlayIp })),
    containers: desiredContainers,
    policies,
    dnsIp: id.dnsIp,
    ...(id.containerMtu !== undefined ? { containerMtu: id.containerMtu } : {}),
  };
}
