// Numbered SQL migrations (control/store/migrations/NNN_name.sql), applied in order at start.
// A session-level advisory lock makes concurrent replicas safe: one migrates, the others wait and
// then find nothing left to do. Each migration runs in its own transaction with its bookkeeping row.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../common/package-root.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import type { Db } from "./db.js";

const MIGRATION_LOCK = 0x57_45_46_54; // "WEFT"

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function loadMigrations(dir = join(packageRoot(), "control", "store", "migrations")): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => {
      const m = /^(\d+)_(.+)\.sql$/.exec(f)!;
      return { version: Number(m[1]), name: m[2]!, sql: readFileSync(join(dir, f), "utf8") };
    })
    .sort((a, b) => a.version - b.version);
}

export async function migrate(db: Db, logger: Logger = silentLogger, migrations = loadMigrations()): Promise<number[]> {
  return db.session(async (c) => {
    await c.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await c.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      const done = new Set(
        (await c.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version),
      );
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await c.exec("BEGIN");
        try {
          await c.exec(m.sql);
          await c.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
          await c.exec("COMMIT");
        } catch (err) {
          await c.exec("ROLLBACK").catch(() => undefined);
          throw err;
        }
        logger.info({ migration: m.version, migrationName: m.name }, "migration-applied");
        applied.push(m.version);
      }
      return applied;
    } finally {
      await c.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    }
  });
}
