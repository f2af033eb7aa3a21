// The contract of the one module that owns a cell's kernel: intent-level operations, each taking
// the network namespace explicitly, and the observed state that the planner diffs against. The
// Linux implementation (linux-kernel.ts) and the recording fake (fake-kernel.ts) both implement it.
import type { PortRange } from "./port-ranges.js";

/** Path to a network namespace file, e.g. /var/run/netns/cell1 or /proc/<pid>/ns/net. */
export type Netns = string;
export type Protocol = "tcp" | "udp";

export interface CellBaseSpec {
  /** Address put on the cell's loopback for the DNS server (a dummy device is not available). */
  readonly dnsIp: string;
}

export interface VtepSpec {
  readonly vni: number;
  readonly port: number;
  readonly underlayIp: string;
  readonly underlayDev: string;
  readonly mtu: number;
  /** The own lease's `.0`; put on the VTEP as a /32. */
  readonly address: string;
  readonly mac: string;
}

export interface RemoteLeaseSpec {
  readonly subnet: string;
  readonly vtepIp: string;
  readonly mac: string;
  readonly underlayIp: string;
  /** The own VTEP address, used as the route's preferred source. */
  readonly localVtepIp: string;
}

/** What to remove of a remote lease; each part is removed when given. */
export interface RemoteLeaseRef {
  readonly subnet?: string;
  readonly vtepIp?: string;
  readonly mac?: string;
}

export interface ContainerVethSpec {
  readonly ip: string;
  /** The container's network namespace. */
  readonly netns: Netns;
  readonly ifName: string;
  readonly hostIf: string;
  readonly hostMac: string;
  readonly containerMac: string;
  readonly mtu: number;
}

/** (source tag, destination IP, protocol) -> the port class whose ranges it accepts. */
export interface AllowEntry {
  readonly tag: number;
  readonly ip: string;
  readonly protocol: Protocol;
  readonly classId: number;
}

/** A port class: an id (>= PORT_CLASS_BASE, never a tag) shared by every key with these ranges. */
export interface PortClass {
  readonly id: number;
  readonly ranges: readonly PortRange[];
}

/**
 * One atomic change of the nftables table, applied as a single `nft -f` transaction. Removals of
 * keys that are also added mean "replace"; the kernel applies everything at once.
 */
export interface RuleDelta {
  /** Create the table, its sets and maps (idempotent `add`s). */
  readonly createTable: boolean;
  /** Base chains whose rules are flushed and re-added (missing, tampered or outdated). */
  readonly rebuildBaseChains: readonly string[];
  /** Port classes added. */
  readonly addPortClasses: readonly PortClass[];
  /**
   * When set, the `ports` set is flushed and refilled with exactly these classes, in the same
   * transaction. Removing classes this way never depends on how nft stored their intervals,
   * and the set is small (one element per distinct range), so this stays cheap.
   */
  readonly resetPortClasses: readonly PortClass[] | undefined;
  readonly addContainers: readonly string[];
  readonly removeContainers: readonly string[];
  readonly addTags: readonly { readonly ip: string; readonly tag: number }[];
  readonly removeTags: readonly { readonly ip: string; readonly tag: number }[];
  readonly addAllow: readonly AllowEntry[];
  readonly removeAllow: readonly AllowEntry[];
  readonly addOverlay: readonly string[];
  readonly removeOverlay: readonly string[];
  /** ASG chains created (or flushed and refilled) with these rule texts, before elements refer to them. */
  readonly addChains?: readonly { readonly name: string; readonly rules: readonly string[] }[];
  /** ASG chains deleted, after the elements that referred to them. */
  readonly removeChains?: readonly string[];
  /** Elements of the edge sets and maps (see ObservedFilter.elements): removed by key, added by text. */
  readonly removeElements?: readonly { readonly set: string; readonly key: string }[];
  readonly addElements?: readonly { readonly set: string; readonly key: string; readonly text: string }[];
}

/** Flows to cut after a policy no longer allows them: ct mark == tag, to ip, proto, dport in ranges. */
export interface FlowCut {
  readonly tag: number;
  readonly ip: string;
  readonly protocol: Protocol;
  readonly ranges: readonly PortRange[];
}

export interface ObservedVtep {
  readonly vni: number | undefined;
  readonly port: number | undefined;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly local: string | undefined;
  readonly underlayDev: string | undefined;
  readonly mtu: number;
  readonly mac: string;
  readonly up: boolean;
  readonly addresses: readonly string[];
}

export interface ObservedHostVeth {
  readonly hostIf: string;
  readonly ip: string;
  readonly mac: string;
  readonly up: boolean;
  /** Peer address on the host side (169.254.0.1 peer <ip>/32). */
  readonly peerAddress: boolean;
  /** Permanent neighbour entry for the container's MAC. */
  readonly neighbourMac: string | undefined;
}

export interface ObservedFilter {
  readonly present: boolean;
  /** Base chain -> comments of its rules, in order. */
  readonly baseChains: ReadonlyMap<string, readonly string[]>;
  /** Port class id -> its ranges. */
  readonly portClasses: ReadonlyMap<number, readonly PortRange[]>;
  readonly containers: ReadonlySet<string>;
  readonly tags: ReadonlyMap<string, number>;
  /** allowKey(tag, ip, protocol) -> entry. */
  readonly allow: ReadonlyMap<string, AllowEntry>;
  readonly overlay: ReadonlySet<string>;
  /**
   * Elements of the keyed sets and maps of the cell edge (egress_sets, netin, netin_dnat,
   * host_services): set -> element key -> the element as `add element` writes it.
   */
  readonly elements: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

export interface ObservedCell {
  readonly ipForward: boolean;
  readonly loopbackAddresses: readonly string[];
  readonly underlayMtu: number | undefined;
  readonly vtep: ObservedVtep | undefined;
  /** Routes on the VTEP: destination -> gateway. */
  readonly vtepRoutes: ReadonlyMap<string, string | undefined>;
  /** Permanent neighbours on the VTEP: IP -> MAC. */
  readonly vtepNeighbours: ReadonlyMap<string, string>;
  /** FDB entries on the VTEP: MAC -> underlay IP. */
  readonly vtepFdb: ReadonlyMap<string, string>;
  /** Container veths (host ends named `w-<ip>`), keyed by name. */
  readonly hostVeths: ReadonlyMap<string, ObservedHostVeth>;
  readonly filter: ObservedFilter;
}

export function allowKey(tag: number, ip: string, protocol: Protocol): string {
  return `${tag}|${ip}|${protocol}`;
}

export interface ObserveOptions {
  readonly underlayDev?: string;
}

/** The only way Weft changes a cell's kernel. Every call is serialised and batched. */
export interface Kernel {
  observe(netns: Netns, opts?: ObserveOptions): Promise<ObservedCell>;
  ensureCellBase(netns: Netns, spec: CellBaseSpec): Promise<void>;
  /** Creates the VTEP; with `recreate`, deletes a mismatching one first (its routes go with it). */
  ensureVtep(netns: Netns, spec: VtepSpec, opts?: { readonly recreate?: boolean }): Promise<void>;
  deleteVtep(netns: Netns): Promise<void>;
  /** FDB entry, then permanent neighbour, then route: the route goes live only when L2 is ready. */
  setRemoteLease(netns: Netns, lease: RemoteLeaseSpec): Promise<void>;
  /** Route, then neighbour, then FDB entry. Already-absent objects count as removed. */
  removeRemoteLease(netns: Netns, lease: RemoteLeaseRef): Promise<void>;
  createContainerVeth(netns: Netns, spec: ContainerVethSpec): Promise<void>;
  /** Re-asserts the host end's address, neighbour and link state (idempotent). */
  repairContainerHost(netns: Netns, spec: ContainerVethSpec): Promise<void>;
  /** Deletes the pair by its host end; a missing device counts as deleted. */
  deleteContainerVeth(netns: Netns, hostIf: string): Promise<void>;
  applyRuleDelta(netns: Netns, delta: RuleDelta): Promise<void>;
  /** Deletes matching conntrack entries; returns how many were deleted. */
  flushConntrack(netns: Netns, cuts: readonly FlowCut[]): Promise<number>;
}

export function emptyFilter(): ObservedFilter {
  return {
    present: false,
    baseChains: new Map(),
    portClasses: new Map(),
    containers: new Set(),
    tags: new Map(),
    allow: new Map(),
    overlay: new Set(),
    elements: new Map(),
  };
}

export function emptyCell(): ObservedCell {
  return {
    ipForward: false,
    loopbackAddresses: [],
    underlayMtu: undefined,
    vtep: undefined,
    vtepRoutes: new Map(),
    vtepNeighbours: new Map(),
    vtepFdb: new Map(),
    hostVeths: new Map(),
    filter: emptyFilter(),
  };
}

export function emptyDelta(): RuleDelta {
  return {
    createTable: false,
    rebuildBaseChains: [],
    addPortClasses: [],
    resetPortClasses: undefined,
    addContainers: [],
    removeContainers: [],
    addTags: [],
    removeTags: [],
    addAllow: [],
    removeAllow: [],
    addOverlay: [],
    removeOverlay: [],
  };
}
