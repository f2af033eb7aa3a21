// Domain types shared by the REST handlers, the domain logic and the store.
export type Protocol = "tcp" | "udp";

export interface Policy {
  readonly source: string;
  readonly destination: string;
  readonly protocol: Protocol;
  readonly startPort: number;
  readonly endPort: number;
}

export interface App {
  readonly guid: string;
  readonly name: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
}

export interface TagEntry {
  readonly id: string;
  readonly tag: number;
  readonly type: string;
}

export interface PolicyFilter {
  /** Policies where any of these apps is the source or the destination. */
  readonly ids?: readonly string[];
  readonly sourceIds?: readonly string[];
  readonly destIds?: readonly string[];
  /** Only policies whose source and destination apps both live in one of these spaces. */
  readonly spaces?: readonly string[];
}

export function policyKey(p: Policy): string {
  return `${p.source}\u0000${p.destination}\u0000${p.protocol}\u0000${p.startPort}\u0000${p.endPort}`;
}
