// Db over a real PostgreSQL through a pg Pool. Connections are made on demand, so when
// PostgreSQL comes back after an outage the next request simply gets a fresh connection: recovery
// needs no restart. A short connect timeout makes requests fail fast (503) during an outage instead
// of queueing.
import pg from "pg";
import { silentLogger, type Logger } from "../../common/logger.js";
import { inTransaction, mapDbError, type Db, type QueryResult, type SqlClient } from "./db.js";

// int8 as a JS number: revisions and ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export interface PgDbOptions {
  readonly connectionString: string;
  readonly maxConnections?: number;
  readonly connectTimeoutMs?: number;
  readonly statementTimeoutMs?: number;
  readonly logger?: Logger;
}

function wrap(client: pg.PoolClient | pg.Pool): SqlClient {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      try {
        const res = await client.query(sql, params as unknown[] | undefined);
        return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
      } catch (err) {
        throw mapDbError(err);
      }
    },
    async exec(sql: string): Promise<void> {
      try {
        await client.query(sql);
      } catch (err) {
        throw mapDbError(err);
      }
    },
  };
}

export function createPgDb(opts: PgDbOptions): Db {
  const log = opts.logger ?? silentLogger;
  const pool = new pg.Pool({
    connectionString: opts.connectionString,
    max: opts.maxConnections ?? 16,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000,
    statement_timeout: opts.statementTimeoutMs ?? 30_000,
    idleTimeoutMillis: 30_000,
    application_name: "weft-control",
  });
  // An idle client's error (PostgreSQL restarted) must not crash the process; the pool drops it.
  pool.on("error", (err) => log.warn({ err: err.message }, "db-idle-client-failed"));
  const direct = wrap(pool);

  async function connect(): Promise<pg.PoolClient> {
    try {
      return await pool.connect();
    } catch (err) {
      throw mapDbError(err);
    }
  }

  const db: Db = {
    kind: "postgres",
    query: (sql, params) => direct.query(sql, params),
    exec: (sql) => direct.exec(sql),
    async session<T>(fn: (client: SqlClient) => Promise<T>): Promise<T> {
      const client = await connect();
      let broken: Error | undefined;
      // A checked-out client that loses its connection emits 'error'; without a listener that
      // would crash the process. The failing query rejects on its own.
      const onError = (err: Error) => {
        broken = err;
        log.warn({ err: err.message }, "db-session-connection-lost");
      };
      client.on("error", onError);
      try {
        return await fn(wrap(client));
      } catch (err) {
        broken ??= err as Error;
        throw err;
      } finally {
        client.off("error", onError);
        // A failed session may leave the connection in an unknown state: discard it.
        client.release(broken);
      }
    },
    transaction: (fn, mode) => db.session((c) => inTransaction(c, fn, mode)),
    async listen(channel: string, onPayload: (payload: string) => void, onResubscribed?: () => void) {
      // A dedicated client, outside the pool, re-made with backoff whenever it is lost.
      let client: pg.Client | undefined;
      let stopped = false;
      let retryTimer: NodeJS.Timeout | undefined;
      const connectOnce = async (): Promise<void> => {
        const c = new pg.Client({ connectionString: opts.connectionString, connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000 });
        c.on("notification", (msg) => {
          if (msg.channel === channel) onPayload(msg.payload ?? "");
        });
        const lost = (err?: Error) => {
          if (client !== c || stopped) return;
          client = undefined;
          log.warn({ err: err?.message }, "db-listen-connection-lost");
          c.end().catch(() => undefined);
          schedule(250);
        };
        c.on("error", lost);
        c.on("end", () => lost());
        try {
          await c.connect();
          await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
        } catch (err) {
          await c.end().catch(() => undefined);
          throw mapDbError(err);
        }
        client = c;
      };
      let delay = 250;
      const schedule = (ms: number) => {
        if (stopped) return;
        retryTimer = setTimeout(() => {
          connectOnce().then(
            () => {
              delay = 250;
              log.info({ channel }, "db-listen-resubscribed");
              onResubscribed?.();
            },
            () => {
              delay = Math.min(delay * 2, 5000);
              schedule(delay);
            },
          );
        }, ms);
      };
      await connectOnce();
      return async () => {
        stopped = true;
        clearTimeout(retryTimer);
        const c = client;
        client = undefined;
        await c?.end().catch(() => undefined);
      };
    },
    async close() {
      await pool.end();
    },
  };
  return db;
}
