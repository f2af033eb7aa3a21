// Internal routes (NAME.apps.internal) mapped to apps, stored lower-case. Mapping a host to another
// app moves it. Each change bumps the revision with the apps it touches, which re-issues their
// certificates (routes are SANs) and updates DNS.
import { WeftError } from "../../common/errors.js";
import type { Store } from "./store.js";

export interface RouteRecord {
  readonly host: string;
  readonly appGuid: string;
}

export class RouteStore {
  constructor(private readonly store: Store) {}

  async map(host: string, appGuid: string): Promise<number | null> {
    const h = host.toLowerCase();
    const { revision } = await this.store.mutate(async (tx) => {
      const app = await tx.query("SELECT 1 FROM apps WHERE guid = $1", [appGuid]);
      if (app.rowCount === 0) throw new WeftError("NOT_FOUND", `app ${appGuid} not found`);
      const prev = await tx.query<{ app_guid: string }>("SELECT app_guid FROM routes WHERE host = $1", [h]);
      const before = prev.rows[0]?.app_guid;
      if (before === appGuid) return { result: undefined, changed: false, kind: "routes" };
      await tx.query("INSERT INTO routes (host, app_guid) VALUES ($1, $2) ON CONFLICT (host) DO UPDATE SET app_guid = EXCLUDED.app_guid", [h, appGuid]);
      return { result: undefined, changed: true, kind: "routes", detail: { apps: before ? [appGuid, before] : [appGuid] } };
    });
    return revision;
  }

  async unmap(host: string): Promise<number | null> {
    const { revision } = await this.store.mutate(async (tx) => {
      const res = await tx.query<{ app_guid: string }>("DELETE FROM routes WHERE host = $1 RETURNING app_guid", [host.toLowerCase()]);
      return { result: undefined, changed: res.rowCount > 0, kind: "routes", detail: { apps: res.rows.map((r) => r.app_guid) } };
    });
    return revision;
  }

  async list(appGuid?: string): Promise<RouteRecord[]> {
    const res = await this.store.db.query<{ host: string; app_guid: string }>(
      `SELECT host, app_guid FROM routes${appGuid ? " WHERE app_guid = $1" : ""} ORDER BY host`,
      appGuid ? [appGuid] : [],
    );
    return res.rows.map((r) => ({ host: r.host, appGuid: r.app_guid }));
  }
}
