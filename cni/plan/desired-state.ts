// What a cell should look like, as the agent learns it from control and from CNI ADDs, and the
// operations the planner emits to get the kernel there.
import type {
  CellBaseSpec,
  ContainerVethSpec,
  FlowCut,
  Netns,
  Protocol,
  RemoteLeaseRef,
  RemoteLeaseSpec,
  RuleDelta,
  VtepSpec,
} from "../kernel/kernel-types.js";
import type { PortRange } from "../kernel/port-ranges.js";

export interface LeaseRef {
  /** The lease's overlay subnet, e.g. 10.255.34.0/24. */
  readonly subnet: string;
  /** The cell's underlay IP: where VXLAN packets for this lease are sent. */
  readonly underlayIp: string;
}

export interface DesiredContainer {
  /** The runtime's container id (CNI_CONTAINERID). */
  readonly id: string;
  readonly ip: string;
  readonly netns: Netns;
  readonly appGuid: string;
  /** The app's tag; undefined or 0 when the app is in no policy (its traffic stays untagged). */
  readonly tag?: number | undefined;
  /** Interface name inside the container; default eth0. */
  readonly ifName?: string | undefined;
  /** CNI port mappings (NetIn): host port on the cell -> this container's port. */
  readonly portMappings?: readonly PortMappingSpec[] | undefined;
}

export interface PortMappingSpec {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: Protocol;
}

/** A service on the cell host that containers may reach (besides DNS), e.g. a metadata endpoint. */
export interface HostService {
  readonly ip: string;
  readonly protocol: Protocol;
  readonly port: number;
}

/** Egress to outside the overlay (app security groups), as compiled chains and who uses which. */
export interface DesiredEgress {
  /** Chain name (asg-<hash>) -> its rule texts. */
  readonly chains: ReadonlyMap<string, readonly string[]>;
  /** Container IP -> its chain. A container without one has no egress at all. */
  readonly byIp: ReadonlyMap<string, string>;
}

export interface DesiredPolicy {
  readonly sourceTag: number;
  readonly destAppGuid: string;
  readonly protocol: Protocol;
  readonly ports: PortRange;
}

export interface DesiredCell {
  /** The whole overlay network (traffic to it is never masqueraded). */
  readonly overlayCidr: string;
  readonly lease: LeaseRef;
  readonly underlayDev: string;
  /** Every lease, own included or not; the own lease and leases outside the overlay are skipped. */
  readonly remoteLeases: readonly LeaseRef[];
  readonly containers: readonly DesiredContainer[];
  readonly policies: readonly DesiredPolicy[];
  readonly dnsIp?: string;
  /** MTU of container interfaces; default the VTEP's. */
  readonly containerMtu?: number;
  /**
   * Egress to outside the overlay. Absent: open (every container maps to an accept-all chain; for
   * callers that program the overlay only). The agent always sets it: the ASG allow-lists.
   */
  readonly egress?: DesiredEgress;
  readonly hostServices?: readonly HostService[];
}

export type Operation =
  | { readonly kind: "ensureCellBase"; readonly spec: CellBaseSpec }
  | { readonly kind: "ensureVtep"; readonly spec: VtepSpec; readonly recreate: boolean }
  | { readonly kind: "setRemoteLease"; readonly lease: RemoteLeaseSpec }
  | { readonly kind: "removeRemoteLease"; readonly lease: RemoteLeaseRef }
  | { readonly kind: "createContainerVeth"; readonly spec: ContainerVethSpec }
  | { readonly kind: "repairContainerHost"; readonly spec: ContainerVethSpec }
  | { readonly kind: "deleteContainerVeth"; readonly hostIf: string }
  | { readonly kind: "applyRuleDelta"; readonly delta: RuleDelta }
  | { readonly kind: "flushConntrack"; readonly cuts: readonly FlowCut[] };

export type PlanResult =
  | { readonly kind: "ops"; readonly ops: readonly Operation[] }
  | { readonly kind: "blocked"; readonly reason: string };
