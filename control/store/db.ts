// The SQL boundary. Store code is written once against SqlClient/Db and runs unchanged on
// PostgreSQL (pg) and on the embedded store (PGlite, the same SQL in-process). This is also where
// driver errors become typed WeftErrors: a connection that cannot be made or was lost is
// STORE_UNAVAILABLE (503 at the REST edge); our own RAISEs map to domain codes.
import { WeftError } from "../../common/errors.js";

export interface QueryResult<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

export interface SqlClient {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A consistent read-only snapshot, for readers that must see one revision. */
export type TransactionMode = "read-write" | "snapshot";

export function beginStatement(mode: TransactionMode = "read-write"): string {
  return mode === "snapshot" ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
}

/** BEGIN, fn, COMMIT on one client; a throw rolls back and is rethrown. */
export async function inTransaction<T>(c: SqlClient, fn: (tx: SqlClient) => Promise<T>, mode?: TransactionMode): Promise<T> {
  await c.exec(beginStatement(mode));
  try {
    const out = await fn(c);
    await c.exec("COMMIT");
    return out;
  } catch (err) {
    await c.exec("ROLLBACK").catch(() => undefined);
    throw err;
  }
}

export interface Db extends SqlClient {
  readonly kind: "postgres" | "embedded";
  /** Runs fn on one exclusive connection (session-level locks, LISTEN). */
  session<T>(fn: (client: SqlClient) => Promise<T>): Promise<T>;
  /** Runs fn inside BEGIN ... COMMIT on one connection; any throw rolls back. */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>, mode?: TransactionMode): Promise<T>;
  /**
   * Subscribes to NOTIFY on a channel. The subscription survives connection loss: it reconnects by
   * itself and then calls onResubscribed, since notifications sent meanwhile were missed.
   * Returns an unsubscribe function.
   */
  listen(channel: string, onPayload: (payload: string) => void, onResubscribed?: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** SQLSTATEs raised by weft's own SQL functions (see migrations). */
const DOMAIN_CODES: Record<string, { code: ConstructorParameters<typeof WeftError>[0]; message?: string }> = {
  WT001: { code: "TAGS_EXHAUSTED" },
  WT002: { code: "QUOTA_EXCEEDED", message: "policy quota exceeded" },
};

const CONNECTION_MESSAGES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "Connection terminated",
  "connection timeout",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Connection terminated unexpectedly",
  "the database system is starting up",
  "the database system is shutting down",
  "terminating connection",
];

/** Turns a driver error into a WeftError. */
export function mapDbError(err: unknown): Error {
  if (err instanceof WeftError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  const message = typeof e.message === "string" ? e.message : String(err);
  const domain = DOMAIN_CODES[code];
  if (domain) return new WeftError(domain.code, domain.message ?? message, { cause: err });
  // Class 08 (connection exception), 57P0x (shutdown, cannot connect now), 53 (insufficient resources).
  if (/^(08|57P0|53)/.test(code) || CONNECTION_MESSAGES.some((m) => message.includes(m) || code === m)) {
    return new WeftError("STORE_UNAVAILABLE", `store unavailable: ${message}`, { cause: err });
  }
  return new WeftError("INTERNAL", `store error: ${message}`, { cause: err });
}
