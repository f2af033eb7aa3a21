// The embedded default store: PGlite (PostgreSQL compiled to WASM) running the very same SQL
// in-process, persisted in a data directory. PGlite is one session, so a promise-chain mutex gives
// each session/transaction exclusive use; this also makes every transaction serialisable here.
// LISTEN/NOTIFY work within the one instance, which is all a single embedded replica needs.
import { PGlite, types } from "@electric-sql/pglite";
import { mkdirSync } from "node:fs";
import { inTransaction, mapDbError, type Db, type QueryResult, type SqlClient } from "./db.js";

export interface PgliteDbOptions {
  /** Directory for the database files; undefined keeps everything in memory (tests). */
  readonly dataDir?: string;
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export async function createPgliteDb(opts: PgliteDbOptions = {}): Promise<Db> {
  if (opts.dataDir !== undefined) mkdirSync(opts.dataDir, { recursive: true });
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
      parsers: { [types.INT8]: (v: string) => Number(v) },
    });
  } catch (err) {
    throw mapDbError(err);
  }
  const mutex = new Mutex();
  const raw: SqlClient = {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      try {
        const res = await pglite.query<R>(sql, params as unknown[] | undefined);
        // PGlite reports affectedRows 0 (not undefined) for a SELECT: the rows count then, as in pg.
        return { rows: res.rows, rowCount: Math.max(res.affectedRows ?? 0, res.rows.length) };
      } catch (err) {
        throw mapDbError(err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await pglite.exec(sql);
      } catch (err) {
        throw mapDbError(err);
      }
    },
  };

  const db: Db = {
    kind: "embedded",
    query: (sql, params) => mutex.run(() => raw.query(sql, params)),
    exec: (sql) => mutex.run(() => raw.exec(sql)),
    session: (fn) => mutex.run(() => fn(raw)),
    transaction: (fn, mode) => mutex.run(() => inTransaction(raw, fn, mode)),
    async listen(channel, onPayload) {
      const unsub = await pglite.listen(channel, onPayload);
      return async () => {
        await unsub();
      };
    },
    async close() {
      await mutex.run(() => pglite.close());
    },
  };
  return db;
}
