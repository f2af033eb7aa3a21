// Read-only queries that feed the in-memory desired state (control/state). Reads for one change
// batch run in one REPEATABLE READ transaction, so the state they describe is one consistent
// revision. This is the only place the state feed's data comes from SQL.
import type { Policy, Protocol } from "../domain/types.js";
import type { Db, SqlClient } from "./db.js";
import { INSTANCE_COLUMNS, toInstance, type InstanceRecord } from "./instance-store.js";
import type { LeaseRecord } from "./lease-store.js";
import { readSecurityGroups, type SecurityGroupRecord } from "./security-group-store.js";

export interface AppInfo {
  readonly guid: string;
  readonly name: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
}

export interface StateSlice {
  readonly revision: number;
  /** null: this slice replaces everything (a full load). */
  readonly apps: readonly string[] | null;
  readonly cells: readonly string[];
  readonly leasesChanged: boolean;
  /** The kinds of change this slice covers ("full" for a full read). */
  readonly kinds: ReadonlySet<string>;
  readonly appRows: AppInfo[];
  readonly tags: [string, number][];
  readonly policies: Policy[];
  readonly routes: [string, string][];
  readonly instances: InstanceRecord[];
  readonly leases: LeaseRecord[] | null;
  /** Every security group, when they changed (or on a full read); null: unchanged. */
  readonly securityGroups: SecurityGroupRecord[] | null;
}

interface ChangeRow {
  revision: number;
  kind: string;
  detail: { apps?: string[]; cells?: string[] };
}

async function readSlice(tx: SqlClient, revision: number, apps: string[] | null, cells: string[], leases: boolean, kinds: ReadonlySet<string>, groups = false): Promise<StateSlice> {
  const appFilter = apps === null ? "" : " WHERE guid = ANY ($1::text[])";
  const params = apps === null ? [] : [apps];
  const appRows = await tx.query<{ guid: string; name: string; space_guid: string; org_guid: string }>(
    `SELECT guid, name, space_guid, org_guid FROM apps${appFilter}`,
    params,
  );
  const tags = await tx.query<{ guid: string; tag: number }>(`SELECT guid, tag FROM tags${apps === null ? " WHERE guid IS NOT NULL" : appFilter}`, params);
  const policies = await tx.query<{ source_guid: string; dest_guid: string; protocol: Protocol; start_port: number; end_port: number }>(
    `SELECT source_guid, dest_guid, protocol, start_port, end_port FROM policies` +
      (apps === null ? "" : " WHERE source_guid = ANY ($1::text[]) OR dest_guid = ANY ($1::text[])"),
    params,
  );
  const routes = await tx.query<{ host: string; app_guid: string }>(
    `SELECT host, app_guid FROM routes${apps === null ? "" : " WHERE app_guid = ANY ($1::text[])"}`,
    params,
  );
  const instances = await tx.query<Parameters<typeof toInstance>[0]>(
    `SELECT ${INSTANCE_COLUMNS} FROM instances` + (apps === null ? "" : " WHERE app_guid = ANY ($1::text[]) OR cell_id = ANY ($2::text[])"),
    apps === null ? [] : [apps, cells],
  );
  const leaseRows =
    leases || apps === null
      ? (
          await tx.query<{ underlay_ip: string; overlay_subnet: string; cell_id: string; expires_at: Date | string }>(
            "SELECT host(underlay_ip) AS underlay_ip, overlay_subnet::text AS overlay_subnet, cell_id, expires_at FROM leases WHERE expires_at > now()",
          )
        ).rows.map((r) => ({ underlayIp: r.underlay_ip, overlaySubnet: r.overlay_subnet, cellId: r.cell_id, expiresAt: new Date(r.expires_at).getTime() }))
      : null;
  return {
    revision,
    apps,
    cells,
    leasesChanged: leaseRows !== null,
    kinds,
    appRows: appRows.rows.map((r) => ({ guid: r.guid, name: r.name, spaceGuid: r.space_guid, orgGuid: r.org_guid })),
    tags: tags.rows.map((r) => [r.guid, r.tag]),
    policies: policies.rows.map((r) => ({ source: r.source_guid, destination: r.dest_guid, protocol: r.protocol, startPort: r.start_port, endPort: r.end_port })),
    routes: routes.rows.map((r) => [r.host, r.app_guid]),
    instances: instances.rows.map(toInstance),
    leases: leaseRows,
    securityGroups: groups || apps === null ? await readSecurityGroups(tx) : null,
  };
}

export class StateReader {
  constructor(private readonly db: Db) {}

  async full(): Promise<StateSlice> {
    return this.db.transaction(async (tx) => {
      const rev = await tx.query<{ value: number }>("SELECT value FROM weft_revision WHERE id = 1");
      return readSlice(tx, rev.rows[0]!.value, null, [], true, new Set(["full"]));
    }, "snapshot");
  }

  /**
   * What changed after `since`, as one consistent slice; null when nothing did. Falls back to a
   * full read when the change log no longer covers the gap.
   */
  async since(since: number): Promise<StateSlice | null> {
    return this.db.transaction(async (tx) => {
      const rev = (await tx.query<{ value: number }>("SELECT value FROM weft_revision WHERE id = 1")).rows[0]!.value;
      if (rev <= since) return null;
      const changes = await tx.query<ChangeRow>("SELECT revision, kind, detail FROM weft_changes WHERE revision > $1 ORDER BY revision", [since]);
      const covered = changes.rows.length > 0 && changes.rows[0]!.revision === since + 1;
      const apps = new Set<string>();
      const cells = new Set<string>();
      let leases = false;
      let groups = false;
      let everything = !covered;
      const kinds = new Set<string>(everything ? ["full"] : []);
      for (const c of changes.rows) {
        kinds.add(c.kind);
        for (const a of c.detail.apps ?? []) apps.add(a);
        for (const cell of c.detail.cells ?? []) cells.add(cell);
        if (c.kind === "leases") leases = true;
        // Security groups are few and small: a change re-reads them all (not the policies).
        if (c.kind === "security-groups") groups = true;
        if (c.kind === "ca") everything = true;
      }
      return readSlice(tx, rev, everything ? null : [...apps], [...cells], leases, kinds, groups);
    }, "snapshot");
  }
}
