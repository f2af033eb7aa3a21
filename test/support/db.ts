// Test databases: a fresh PostgreSQL database per call (real server at WEFT_TEST_PG or
// 127.0.0.1:5432), or a fresh in-memory embedded store. Both are migrated and dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { Db } from "../../control/store/db.js";
import { createPgDb } from "../../control/store/pg-db.js";
import { createPgliteDb } from "../../control/store/pglite-db.js";
import { migrate } from "../../control/store/migrate.js";

export type StoreKind = "postgres" | "embedded";
export const STORE_KINDS: StoreKind[] = ["postgres", "embedded"];

export const PG_ADMIN_URL = process.env.WEFT_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function pgUrlFor(database: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDb {
  readonly db: Db;
  readonly url?: string;
  readonly database?: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<{ url: string; database: string; drop: () => Promise<void> }> {
  const database = `weft_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  return {
    url: pgUrlFor(database),
    database,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export async function openTestDb(kind: StoreKind): Promise<TestDb> {
  if (kind === "embedded") {
    const db = await createPgliteDb();
    await migrate(db);
    return { db, drop: () => db.close() };
  }
  const created = await createTestDatabase();
  const db = createPgDb({ connectionString: created.url });
  await migrate(db);
  return {
    db,
    url: created.url,
    database: created.database,
    drop: async () => {
      await db.close();
      await created.drop();
    },
  };
}
