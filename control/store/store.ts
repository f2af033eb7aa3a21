// The only module that speaks SQL for the control plane. Every mutation goes through mutate():
// one transaction that first takes the revision lock (so writers are serialised and revisions are
// strictly increasing in commit order) and, when something changed, bumps the revision, which also
// records the change and NOTIFYs other replicas. The hot policy mutations are single calls to SQL
// functions (see migrations); creates and app upserts go through the WriteBatcher, so concurrent
// ones share a transaction and its commit while each keeps its own revision.
import type { App, Policy, PolicyFilter, Protocol, TagEntry } from "../domain/types.js";
import type { Db, SqlClient } from "./db.js";
import { WriteBatcher, type LocalCreates } from "./write-batcher.js";

interface PolicyRow {
  source_guid: string;
  dest_guid: string;
  protocol: Protocol;
  start_port: number;
  end_port: number;
}

interface AppRow {
  guid: string;
  name: string;
  space_guid: string;
  org_guid: string;
}

function toPolicy(r: PolicyRow): Policy {
  return { source: r.source_guid, destination: r.dest_guid, protocol: r.protocol, startPort: r.start_port, endPort: r.end_port };
}

function toApp(r: AppRow): App {
  return { guid: r.guid, name: r.name, spaceGuid: r.space_guid, orgGuid: r.org_guid };
}

function policyRows(policies: readonly Policy[]): { s: string; d: string; p: Protocol; a: number; b: number }[] {
  return policies.map((p) => ({ s: p.source, d: p.destination, p: p.protocol, a: p.startPort, b: p.endPort }));
}

function policiesJson(policies: readonly Policy[]): string {
  return JSON.stringify(policyRows(policies));
}

// One policy as the REST API renders it, built by PostgreSQL: the same bytes JSON.stringify makes
// (to_json quotes and escapes a string as JSON.stringify does; ids hold no control characters).
const RENDER_V1 = `format('{"source":{"id":%s},"destination":{"id":%s,"protocol":%s,"ports":{"start":%s,"end":%s}}}',
  to_json(p.source_guid), to_json(p.dest_guid), to_json(p.protocol), p.start_port, p.end_port)`;
const RENDER_V0 = `format('{"source":{"id":%s},"destination":{"id":%s,"protocol":%s,"port":%s}}',
  to_json(p.source_guid), to_json(p.dest_guid), to_json(p.protocol), p.start_port)`;

/** WHERE terms (on policies p) and their parameters for a list filter. */
function policyWhere(filter: PolicyFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const arg = (v: readonly string[]) => {
    params.push(v);
    return `$${params.length}::text[]`;
  };
  if (filter.ids) {
    const a = arg(filter.ids);
    where.push(`(p.source_guid = ANY (${a}) OR p.dest_guid = ANY (${a}))`);
  }
  if (filter.sourceIds) where.push(`p.source_guid = ANY (${arg(filter.sourceIds)})`);
  if (filter.destIds) where.push(`p.dest_guid = ANY (${arg(filter.destIds)})`);
  if (filter.spaces) {
    const s = arg(filter.spaces);
    where.push(`EXISTS (SELECT 1 FROM apps a WHERE a.guid = p.source_guid AND a.space_guid = ANY (${s}))`);
    where.push(`EXISTS (SELECT 1 FROM apps a WHERE a.guid = p.dest_guid AND a.space_guid = ANY (${s}))`);
  }
  return { where, params };
}

export interface Mutation<T> {
  readonly result: T;
  /** Whether anything changed; only then is the revision bumped. */
  readonly changed: boolean;
  readonly kind: string;
  readonly detail?: Record<string, unknown>;
}

export interface MutationResult<T> {
  readonly result: T;
  /** The revision this change committed as, or null when nothing changed. */
  readonly revision: number | null;
}

export class Store {
  private readonly writes: WriteBatcher;

  constructor(readonly db: Db) {
    this.writes = new WriteBatcher(db);
  }

  /** This replica's committed create batches, for its state feed to apply without reading them back. */
  get localCreates(): LocalCreates {
    return this.writes;
  }

  async mutate<T>(fn: (tx: SqlClient) => Promise<Mutation<T>>): Promise<MutationResult<T>> {
    return this.db.transaction(async (tx) => {
      await tx.query("SELECT weft_lock()");
      const m = await fn(tx);
      if (!m.changed) return { result: m.result, revision: null };
      const res = await tx.query<{ rev: number }>("SELECT weft_bump($1, $2::jsonb) AS rev", [
        m.kind,
        JSON.stringify(m.detail ?? {}),
      ]);
      return { result: m.result, revision: res.rows[0]!.rev };
    });
  }

  async ping(): Promise<void> {
    await this.db.query("SELECT 1");
  }

  async revision(): Promise<number> {
    const res = await this.db.query<{ value: number }>("SELECT value FROM weft_revision WHERE id = 1");
    return res.rows[0]!.value;
  }

  // --- policies -------------------------------------------------------------------------------

  /** Idempotent create. quota (non-admins) caps policies per source app. */
  async createPolicies(policies: readonly Policy[], quota: number | null = null): Promise<number | null> {
    if (policies.length === 0) return null;
    return this.writes.submit({ k: "policies", p: policyRows(policies), q: quota });
  }

  async deletePolicies(policies: readonly Policy[]): Promise<number | null> {
    if (policies.length === 0) return null;
    const res = await this.db.query<{ rev: number | null }>("SELECT weft_delete_policies($1::jsonb) AS rev", [
      policiesJson(policies),
    ]);
    return res.rows[0]!.rev;
  }

  async listPolicies(filter: PolicyFilter = {}): Promise<Policy[]> {
    const { where, params } = policyWhere(filter);
    const sql =
      "SELECT source_guid, dest_guid, protocol, start_port, end_port FROM policies p" +
      (where.length ? ` WHERE ${where.join(" AND ")}` : "") +
      " ORDER BY p.id";
    const res = await this.db.query<PolicyRow>(sql, params);
    return res.rows.map(toPolicy);
  }

  /**
   * The policies as the REST list renders them: their count and the JSON array's elements
   * (comma-separated, without the brackets). PostgreSQL builds the text, so a list of 60,000 costs
   * one row on the wire instead of 60,000 rows, objects and a stringify. v0 omits ranges, as CF does.
   */
  async listPoliciesJson(filter: PolicyFilter, version: "v0" | "v1"): Promise<{ count: number; json: string }> {
    const { where, params } = policyWhere(filter);
    if (version === "v0") where.push("p.start_port = p.end_port");
    // Ordered in a subquery rather than with string_agg(... ORDER BY): PostgreSQL then reads the
    // primary key in order instead of sorting the rendered text, which spills to disk for a full
    // list. A subquery with ORDER BY is not flattened, so the aggregate sees that order.
    const res = await this.db.query<{ n: number; body: string }>(
      `SELECT count(*)::integer AS n, coalesce(string_agg(s.policy, ','), '') AS body
       FROM (SELECT ${version === "v1" ? RENDER_V1 : RENDER_V0} AS policy FROM policies p
             ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY p.id) s`,
      params,
    );
    return { count: res.rows[0]!.n, json: res.rows[0]!.body };
  }

  async listTags(): Promise<TagEntry[]> {
    const res = await this.db.query<{ guid: string; tag: number; type: string }>(
      "SELECT guid, tag, type FROM tags WHERE guid IS NOT NULL ORDER BY tag",
    );
    return res.rows.map((r) => ({ id: r.guid, tag: r.tag, type: r.type }));
  }

  /** Deletes policies whose source or destination app is not registered; returns them. */
  async cleanupPolicies(): Promise<MutationResult<Policy[]>> {
    return this.mutate(async (tx) => {
      const res = await tx.query<PolicyRow>(
        `DELETE FROM policies p
         WHERE NOT EXISTS (SELECT 1 FROM apps a WHERE a.guid = p.source_guid)
            OR NOT EXISTS (SELECT 1 FROM apps a WHERE a.guid = p.dest_guid)
         RETURNING source_guid, dest_guid, protocol, start_port, end_port`,
      );
      const removed = res.rows.map(toPolicy);
      const guids = [...new Set(removed.flatMap((p) => [p.source, p.destination]))];
      if (guids.length) await tx.query("SELECT weft_free_unused_tags($1::text[])", [guids]);
      return { result: removed, changed: removed.length > 0, kind: "policies", detail: { apps: guids, deleted: removed.length } };
    });
  }

  // --- apps -------------------------------------------------------------------------------------

  /** Registers or updates an app (weft_upsert_app); the revision is null when nothing changed. */
  async upsertApp(app: App): Promise<MutationResult<App>> {
    const revision = await this.writes.submit({ k: "app", g: app.guid, n: app.name, s: app.spaceGuid, o: app.orgGuid });
    return { result: app, revision };
  }


  async getApp(guid: string): Promise<App | undefined> {
    const res = await this.db.query<AppRow>("SELECT guid, name, space_guid, org_guid FROM apps WHERE guid = $1", [guid]);
    return res.rows[0] ? toApp(res.rows[0]) : undefined;
  }

  async getApps(guids: readonly string[]): Promise<Map<string, App>> {
    if (guids.length === 0) return new Map();
    const res = await this.db.query<AppRow>(
      "SELECT guid, name, space_guid, org_guid FROM apps WHERE guid = ANY ($1::text[])",
      [guids],
    );
    return new Map(res.rows.map((r) => [r.guid, toApp(r)]));
  }

  async listApps(filter: { name?: string; spaces?: readonly string[] } = {}): Promise<App[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.name !== undefined) {
      params.push(filter.name);
      where.push(`name = $${params.length}`);
    }
    if (filter.spaces) {
      params.push(filter.spaces);
      where.push(`space_guid = ANY ($${params.length}::text[])`);
    }
    const res = await this.db.query<AppRow>(
      "SELECT guid, name, space_guid, org_guid FROM apps" + (where.length ? ` WHERE ${where.join(" AND ")}` : "") + " ORDER BY name, guid",
      params,
    );
    return res.rows.map(toApp);
  }

  /** Deletes an app with its policies (both directions) and routes, and frees the tags left unused. */
  async deleteApp(guid: string): Promise<MutationResult<boolean>> {
    return this.mutate(async (tx) => {
      const removed = await tx.query<PolicyRow>(
        "DELETE FROM policies WHERE source_guid = $1 OR dest_guid = $1 RETURNING source_guid, dest_guid, protocol, start_port, end_port",
        [guid],
      );
      const guids = [...new Set([guid, ...removed.rows.flatMap((r) => [r.source_guid, r.dest_guid])])];
      await tx.query("SELECT weft_free_unused_tags($1::text[])", [guids]);
      const app = await tx.query("DELETE FROM apps WHERE guid = $1", [guid]);
      const changed = app.rowCount > 0 || removed.rowCount > 0;
      return { result: app.rowCount > 0, changed, kind: "apps", detail: { apps: guids, deletedApp: guid } };
    });
  }
}
