// Desired overlay and container links -> operations. Pure.
//
// The VTEP's immutable VXLAN parameters (VNI, port, GBP, learning, local address, device) can only
// be fixed by recreating it, which drops its routes, neighbours and FDB entries, so a recreate
// re-adds every remote lease. A remote lease is whole only with its route, permanent neighbour and
// FDB entry all correct; anything on the VTEP that no lease explains is removed.
import type { ContainerVethSpec, ObservedCell, RemoteLeaseSpec, VtepSpec } from "../kernel/kernel-types.js";
import {
  DNS_IP,
  VTEP_PORT,
  VTEP_VNI,
  VXLAN_OVERHEAD,
  cidrContains,
  containerMac,
  hostVethMac,
  hostVethName,
  leaseVtepIp,
  parseCidr,
  vtepMac,
} from "../kernel/names.js";
import type { DesiredCell, Operation } from "./desired-state.js";

export function vtepSpec(d: DesiredCell, underlayMtu: number): VtepSpec {
  const address = leaseVtepIp(d.lease.subnet);
  return {
    vni: VTEP_VNI,
    port: VTEP_PORT,
    underlayIp: d.lease.underlayIp,
    underlayDev: d.underlayDev,
    mtu: underlayMtu - VXLAN_OVERHEAD,
    address,
    mac: vtepMac(address),
  };
}

export function remoteLeaseSpecs(d: DesiredCell): RemoteLeaseSpec[] {
  const own = parseCidr(d.lease.subnet).network;
  const localVtepIp = leaseVtepIp(d.lease.subnet);
  return d.remoteLeases
    .filter((l) => parseCidr(l.subnet).network !== own && cidrContains(d.overlayCidr, parseCidr(l.subnet).network))
    .map((l) => {
      const c = parseCidr(l.subnet);
      return {
        subnet: `${c.network}/${c.prefix}`,
        vtepIp: c.network,
        mac: vtepMac(c.network),
        underlayIp: l.underlayIp,
        localVtepIp,
      };
    });
}

export function containerSpec(
  c: { readonly ip: string; readonly netns: string; readonly ifName?: string | undefined },
  mtu: number,
): ContainerVethSpec {
  return {
    ip: c.ip,
    netns: c.netns,
    ifName: c.ifName ?? "eth0",
    hostIf: hostVethName(c.ip),
    hostMac: hostVethMac(c.ip),
    containerMac: containerMac(c.ip),
    mtu,
  };
}

export interface LinkPlan {
  readonly base: Operation[];
  readonly vtep: Operation[];
  readonly setLeases: Operation[];
  readonly removeLeases: Operation[];
  readonly createContainers: Operation[];
  readonly deleteContainers: Operation[];
}

export function planLinks(d: DesiredCell, o: ObservedCell, underlayMtu: number): LinkPlan {
  const dnsIp = d.dnsIp ?? DNS_IP;
  const base: Operation[] =
    o.ipForward && o.loopbackAddresses.includes(dnsIp) ? [] : [{ kind: "ensureCellBase", spec: { dnsIp } }];

  const spec = vtepSpec(d, underlayMtu);
  const v = o.vtep;
  const recreate =
    v !== undefined &&
    (v.vni !== spec.vni ||
      v.port !== spec.port ||
      !v.gbp ||
      v.learning ||
      v.local !== spec.underlayIp ||
      (v.underlayDev !== undefined && v.underlayDev !== spec.underlayDev));
  const fix = v === undefined || recreate || v.mtu !== spec.mtu || v.mac !== spec.mac || !v.up || !v.addresses.includes(`${spec.address}/32`);
  const vtep: Operation[] = fix ? [{ kind: "ensureVtep", spec, recreate }] : [];
  // After a (re)create the VTEP has no routes, neighbours or FDB entries.
  const fresh = v === undefined || recreate;
  const routes = fresh ? new Map<string, string | undefined>() : o.vtepRoutes;
  const neigh = fresh ? new Map<string, string>() : o.vtepNeighbours;
  const fdb = fresh ? new Map<string, string>() : o.vtepFdb;

  const leases = remoteLeaseSpecs(d);
  const setLeases: Operation[] = leases
    .filter((l) => routes.get(l.subnet) !== l.vtepIp || neigh.get(l.vtepIp) !== l.mac || fdb.get(l.mac) !== l.underlayIp)
    .map((lease) => ({ kind: "setRemoteLease", lease }));

  const wantSubnets = new Set(leases.map((l) => l.subnet));
  const wantVtepIps = new Set(leases.map((l) => l.vtepIp));
  const wantMacs = new Set(leases.map((l) => l.mac));
  // Whatever no wanted lease explains: routes, then neighbours, then FDB entries, each on its own.
  const removeLeases: Operation[] = [
    ...[...routes.keys()].filter((dst) => !wantSubnets.has(dst)).map((subnet) => ({ subnet })),
    ...[...neigh.keys()].filter((ip) => !wantVtepIps.has(ip)).map((vtepIp) => ({ vtepIp })),
    ...[...fdb.keys()].filter((mac) => !wantMacs.has(mac)).map((mac) => ({ mac })),
  ].map((lease) => ({ kind: "removeRemoteLease", lease }));

  const mtu = d.containerMtu ?? spec.mtu;
  const createContainers: Operation[] = [];
  const wantIfs = new Set<string>();
  for (const c of d.containers) {
    const s = containerSpec(c, mtu);
    wantIfs.add(s.hostIf);
    const seen = o.hostVeths.get(s.hostIf);
    if (!seen) createContainers.push({ kind: "createContainerVeth", spec: s });
    else if (!seen.up || !seen.peerAddress || seen.neighbourMac !== s.containerMac) {
      createContainers.push({ kind: "repairContainerHost", spec: s });
    }
  }
  const deleteContainers: Operation[] = [...o.hostVeths.keys()]
    .filter((n) => !wantIfs.has(n))
    .map((hostIf) => ({ kind: "deleteContainerVeth", hostIf }));

  return { base, vtep, setLeases, removeLeases, createContainers, deleteContainers };
}

