// Instances (containers) in the store. Only the cell an instance runs on may register, re-register
// or deregister it; an instance GUID already on another cell is a CONFLICT. An app the registry
// does not know yet is registered from the container's metadata, so the platform need not call the
// API first. Each change bumps the revision with the app and cell it touches.
import { WeftError } from "../../common/errors.js";
import type { Store } from "./store.js";

export interface InstanceRecord {
  readonly instanceGuid: string;
  readonly appGuid: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
  readonly index: number;
  readonly overlayIp: string;
  readonly ports: readonly number[];
  readonly lifecycle: "running" | "staging" | "task";
  readonly cellId: string;
}

export interface IssuedCertificateRecord {
  readonly instance: InstanceRecord;
  readonly publicKeyPem: string;
  readonly routesKey: string;
}

export function routesKey(routes: readonly string[]): string {
  return [...routes].sort().join(",");
}

export interface InstanceKeyRecord {
  readonly instance: InstanceRecord;
  readonly publicKeyPem: string | null;
  readonly certNotAfter: number | null;
}

interface InstanceRow {
  instance_guid: string;
  app_guid: string;
  space_guid: string;
  org_guid: string;
  instance_index: number;
  overlay_ip: string;
  ports: number[];
  lifecycle: InstanceRecord["lifecycle"];
  cell_id: string;
  public_key_pem: string | null;
  cert_not_after: Date | string | null;
}

export const INSTANCE_COLUMNS =
  "instance_guid, app_guid, space_guid, org_guid, instance_index, host(overlay_ip) AS overlay_ip, ports, lifecycle, cell_id, public_key_pem, cert_not_after";

export function toInstance(r: InstanceRow): InstanceRecord {
  return {
    instanceGuid: r.instance_guid,
    appGuid: r.app_guid,
    spaceGuid: r.space_guid,
    orgGuid: r.org_guid,
    index: r.instance_index,
    overlayIp: r.overlay_ip,
    ports: r.ports,
    lifecycle: r.lifecycle,
    cellId: r.cell_id,
  };
}

export class InstanceStore {
  constructor(private readonly store: Store) {}

  async register(cellId: string, inst: Omit<InstanceRecord, "cellId">, appName: string): Promise<number | null> {
    const { revision } = await this.store.mutate(async (tx) => {
      const existing = await tx.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE instance_guid = $1`, [inst.instanceGuid]);
      const prev = existing.rows[0];
      if (prev && prev.cell_id !== cellId) {
        throw new WeftError("CONFLICT", `instance ${inst.instanceGuid} is registered on another cell`);
      }
      const app = await tx.query(
        `INSERT INTO apps (guid, name, space_guid, org_guid) VALUES ($1, $2, $3, $4) ON CONFLICT (guid) DO NOTHING`,
        [inst.appGuid, appName || inst.appGuid, inst.spaceGuid, inst.orgGuid],
      );
      const res = await tx.query(
        `INSERT INTO instances (instance_guid, app_guid, space_guid, org_guid, instance_index, overlay_ip, ports, lifecycle, cell_id)
         VALUES ($1, $2, $3, $4, $5, $6::inet, $7::jsonb, $8, $9)
         ON CONFLICT (instance_guid) DO UPDATE SET app_guid = EXCLUDED.app_guid, space_guid = EXCLUDED.space_guid,
           org_guid = EXCLUDED.org_guid, instance_index = EXCLUDED.instance_index, overlay_ip = EXCLUDED.overlay_ip,
           ports = EXCLUDED.ports, lifecycle = EXCLUDED.lifecycle
         WHERE (instances.app_guid, instances.space_guid, instances.org_guid, instances.instance_index, instances.overlay_ip, instances.ports, instances.lifecycle)
           IS DISTINCT FROM (EXCLUDED.app_guid, EXCLUDED.space_guid, EXCLUDED.org_guid, EXCLUDED.instance_index, EXCLUDED.overlay_ip, EXCLUDED.ports, EXCLUDED.lifecycle)`,
        [inst.instanceGuid, inst.appGuid, inst.spaceGuid, inst.orgGuid, inst.index, inst.overlayIp, JSON.stringify(inst.ports), inst.lifecycle, cellId],
      );
      const apps = [...new Set([inst.appGuid, ...(prev ? [prev.app_guid] : [])])];
      return { result: undefined, changed: res.rowCount > 0 || app.rowCount > 0, kind: "instances", detail: { apps, cells: [cellId] } };
    });
    return revision;
  }

  async deregister(cellId: string, instanceGuid: string): Promise<number | null> {
    const { revision } = await this.store.mutate(async (tx) => {
      const res = await tx.query<{ app_guid: string }>("DELETE FROM instances WHERE instance_guid = $1 AND cell_id = $2 RETURNING app_guid", [
        instanceGuid,
        cellId,
      ]);
      const apps = res.rows.map((r) => r.app_guid);
      return { result: undefined, changed: res.rowCount > 0, kind: "instances", detail: { apps, cells: [cellId] } };
    });
    return revision;
  }

  async get(instanceGuid: string): Promise<InstanceKeyRecord | undefined> {
    const res = await this.store.db.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE instance_guid = $1`, [instanceGuid]);
    const r = res.rows[0];
    return r
      ? { instance: toInstance(r), publicKeyPem: r.public_key_pem, certNotAfter: r.cert_not_after ? new Date(r.cert_not_after).getTime() : null }
      : undefined;
  }

  /** Remembers what a certificate was issued for (key, routes, expiry), so control can re-issue it. */
  async recordCertificate(instanceGuid: string, publicKeyPem: string, notAfter: number, routes: readonly string[]): Promise<void> {
    await this.store.db.query("UPDATE instances SET public_key_pem = $2, cert_not_after = $3, cert_routes = $4 WHERE instance_guid = $1", [
      instanceGuid,
      publicKeyPem,
      new Date(notAfter),
      routesKey(routes),
    ]);
  }

  /**
   * Certificates to re-issue among the given cells' instances: those whose routes differ from what
   * they were issued with (for the given apps), or that expire before `renewBefore`.
   */
  async certificatesDue(cells: readonly string[], renewBefore: number): Promise<IssuedCertificateRecord[]> {
    if (cells.length === 0) return [];
    const res = await this.store.db.query<InstanceRow & { cert_routes: string | null }>(
      `SELECT ${INSTANCE_COLUMNS}, cert_routes FROM instances
       WHERE cell_id = ANY ($1::text[]) AND public_key_pem IS NOT NULL AND (cert_not_after IS NULL OR cert_not_after < $2)`,
      [cells, new Date(renewBefore)],
    );
    return res.rows.map((r) => ({ instance: toInstance(r), publicKeyPem: r.public_key_pem!, routesKey: r.cert_routes ?? "" }));
  }

  async issuedCertificates(apps: readonly string[]): Promise<IssuedCertificateRecord[]> {
    if (apps.length === 0) return [];
    const res = await this.store.db.query<InstanceRow & { cert_routes: string | null }>(
      `SELECT ${INSTANCE_COLUMNS}, cert_routes FROM instances WHERE app_guid = ANY ($1::text[]) AND public_key_pem IS NOT NULL`,
      [apps],
    );
    return res.rows.map((r) => ({ instance: toInstance(r), publicKeyPem: r.public_key_pem!, routesKey: r.cert_routes ?? "" }));
  }
}
