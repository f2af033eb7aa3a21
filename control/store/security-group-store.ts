// App security groups (ASGs): named lists of egress rules (CF's JSON, normalised by
// common/asg-rules), enabled globally for running and/or staging containers, and bound to spaces
// for running or staging. Every change goes through Store.mutate with kind "security-groups", so
// it bumps the revision, is recorded in weft_changes and reaches cells through the state feed.
import { randomUUID } from "node:crypto";
import type { AsgRule } from "../../common/asg-rules.js";
import { WeftError } from "../../common/errors.js";
import type { SqlClient } from "./db.js";
import type { Store } from "./store.js";

export type AsgLifecycle = "running" | "staging";

export interface SecurityGroupRecord {
  readonly guid: string;
  readonly name: string;
  readonly rules: readonly AsgRule[];
  readonly runningDefault: boolean;
  readonly stagingDefault: boolean;
  readonly runningSpaces: readonly string[];
  readonly stagingSpaces: readonly string[];
}

export interface SecurityGroupChange {
  readonly name?: string;
  readonly rules?: readonly AsgRule[];
  readonly runningDefault?: boolean;
  readonly stagingDefault?: boolean;
}

const KIND = "security-groups";

/** Rules in a fixed field order (jsonb reorders object keys), for comparison. */
const canonical = (rules: readonly AsgRule[]): string =>
  JSON.stringify(rules.map((r) => [r.protocol, r.destinations, r.ports, r.icmpType, r.icmpCode, r.log, r.description]));

interface GroupRow {
  guid: string;
  name: string;
  rules: AsgRule[] | string;
  running_default: boolean;
  staging_default: boolean;
}

/** Every group (or the given ones) with its bindings; one consistent read inside `tx`. */
export async function readSecurityGroups(tx: SqlClient, guids?: readonly string[]): Promise<SecurityGroupRecord[]> {
  const where = guids ? " WHERE guid = ANY ($1::text[])" : "";
  const params = guids ? [guids] : [];
  const groups = await tx.query<GroupRow>(`SELECT guid, name, rules, running_default, staging_default FROM security_groups${where} ORDER BY name`, params);
  const bindings = await tx.query<{ security_group_guid: string; space_guid: string; lifecycle: AsgLifecycle }>(
    `SELECT security_group_guid, space_guid, lifecycle FROM security_group_spaces${guids ? " WHERE security_group_guid = ANY ($1::text[])" : ""} ORDER BY space_guid`,
    params,
  );
  const spaces = new Map<string, { running: string[]; staging: string[] }>();
  for (const b of bindings.rows) {
    let s = spaces.get(b.security_group_guid);
    if (!s) spaces.set(b.security_group_guid, (s = { running: [], staging: [] }));
    s[b.lifecycle].push(b.space_guid);
  }
  return groups.rows.map((g) => ({
    guid: g.guid,
    name: g.name,
    rules: typeof g.rules === "string" ? (JSON.parse(g.rules) as AsgRule[]) : g.rules,
    runningDefault: g.running_default,
    stagingDefault: g.staging_default,
    runningSpaces: spaces.get(g.guid)?.running ?? [],
    stagingSpaces: spaces.get(g.guid)?.staging ?? [],
  }));
}

export class SecurityGroupStore {
  constructor(private readonly store: Store) {}

  async list(filter: { name?: string } = {}): Promise<SecurityGroupRecord[]> {
    const all = await this.store.db.transaction((tx) => readSecurityGroups(tx), "snapshot");
    return filter.name === undefined ? all : all.filter((g) => g.name === filter.name);
  }

  async get(guid: string): Promise<SecurityGroupRecord | undefined> {
    const [g] = await this.store.db.transaction((tx) => readSecurityGroups(tx, [guid]), "snapshot");
    return g;
  }

  private async nameFree(tx: SqlClient, name: string, except?: string): Promise<void> {
    const res = await tx.query<{ guid: string }>("SELECT guid FROM security_groups WHERE name = $1", [name]);
    const other = res.rows[0]?.guid;
    if (other !== undefined && other !== except) throw new WeftError("CONFLICT", `a security group named ${JSON.stringify(name)} already exists`);
  }

  async create(g: { name: string; rules: readonly AsgRule[]; runningDefault: boolean; stagingDefault: boolean }): Promise<{ group: SecurityGroupRecord; revision: number | null }> {
    const guid = randomUUID();
    const { result, revision } = await this.store.mutate(async (tx) => {
      await this.nameFree(tx, g.name);
      await tx.query("INSERT INTO security_groups (guid, name, rules, running_default, staging_default) VALUES ($1, $2, $3::jsonb, $4, $5)", [
        guid,
        g.name,
        JSON.stringify(g.rules),
        g.runningDefault,
        g.stagingDefault,
      ]);
      const [created] = await readSecurityGroups(tx, [guid]);
      return { result: created!, changed: true, kind: KIND, detail: { groups: [guid] } };
    });
    return { group: result, revision };
  }

  async update(guid: string, change: SecurityGroupChange): Promise<{ group: SecurityGroupRecord; revision: number | null }> {
    const { result, revision } = await this.store.mutate(async (tx) => {
      const [before] = await readSecurityGroups(tx, [guid]);
      if (!before) throw new WeftError("NOT_FOUND", "security group not found");
      if (change.name !== undefined) await this.nameFree(tx, change.name, guid);
      const next = {
        name: change.name ?? before.name,
        rules: change.rules ?? before.rules,
        runningDefault: change.runningDefault ?? before.runningDefault,
        stagingDefault: change.stagingDefault ?? before.stagingDefault,
      };
      const changed =
        next.name !== before.name ||
        canonical(next.rules) !== canonical(before.rules) ||
        next.runningDefault !== before.runningDefault ||
        next.stagingDefault !== before.stagingDefault;
      if (!changed) return { result: before, changed: false, kind: KIND };
      await tx.query(
        "UPDATE security_groups SET name = $2, rules = $3::jsonb, running_default = $4, staging_default = $5, updated_at = now() WHERE guid = $1",
        [guid, next.name, JSON.stringify(next.rules), next.runningDefault, next.stagingDefault],
      );
      const [after] = await readSecurityGroups(tx, [guid]);
      return { result: after!, changed: true, kind: KIND, detail: { groups: [guid] } };
    });
    return { group: result, revision };
  }

  async delete(guid: string): Promise<{ found: boolean; revision: number | null }> {
    const { result, revision } = await this.store.mutate(async (tx) => {
      const res = await tx.query("DELETE FROM security_groups WHERE guid = $1", [guid]);
      return { result: res.rowCount > 0, changed: res.rowCount > 0, kind: KIND, detail: { groups: [guid] } };
    });
    return { found: result, revision };
  }

  /** Binds the group to spaces for a lifecycle; already bound spaces are no change. */
  async bind(guid: string, lifecycle: AsgLifecycle, spaces: readonly string[]): Promise<{ group: SecurityGroupRecord; revision: number | null }> {
    const { result, revision } = await this.store.mutate(async (tx) => {
      const found = await tx.query("SELECT 1 FROM security_groups WHERE guid = $1", [guid]);
      if (found.rows.length === 0) throw new WeftError("NOT_FOUND", "security group not found");
      const res = await tx.query(
        `INSERT INTO security_group_spaces (security_group_guid, space_guid, lifecycle)
         SELECT $1, s, $3 FROM unnest($2::text[]) AS s ON CONFLICT DO NOTHING`,
        [guid, spaces, lifecycle],
      );
      const [after] = await readSecurityGroups(tx, [guid]);
      return { result: after!, changed: res.rowCount > 0, kind: KIND, detail: { groups: [guid], spaces } };
    });
    return { group: result, revision };
  }

  async unbind(guid: string, lifecycle: AsgLifecycle, space: string): Promise<{ group: SecurityGroupRecord; revision: number | null }> {
    const { result, revision } = await this.store.mutate(async (tx) => {
      const found = await tx.query("SELECT 1 FROM security_groups WHERE guid = $1", [guid]);
      if (found.rows.length === 0) throw new WeftError("NOT_FOUND", "security group not found");
      const res = await tx.query("DELETE FROM security_group_spaces WHERE security_group_guid = $1 AND space_guid = $2 AND lifecycle = $3", [guid, space, lifecycle]);
      const [after] = await readSecurityGroups(tx, [guid]);
      return { result: after!, changed: res.rowCount > 0, kind: KIND, detail: { groups: [guid], spaces: [space] } };
    });
    return { group: result, revision };
  }
}
