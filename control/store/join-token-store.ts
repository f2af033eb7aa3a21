// One-time join tokens. The token is "<id>.<secret>"; only a SHA-256 of the secret is stored.
// Consuming is one conditional UPDATE, so a token is used at most once even under concurrent joins,
// and a wrong secret does not burn it.
import { createHash, randomBytes } from "node:crypto";
import { WeftError } from "../../common/errors.js";
import type { Db } from "./db.js";

export interface JoinToken {
  readonly token: string;
  readonly expiresAt: number;
  readonly cellId: string | null;
}

const hash = (secret: string) => createHash("sha256").update(secret).digest("hex");

export class JoinTokenStore {
  constructor(private readonly db: Db) {}

  async create(ttlMs: number, cellId: string | null): Promise<JoinToken> {
    const id = randomBytes(8).toString("hex");
    const secret = randomBytes(24).toString("base64url");
    const expiresAt = Date.now() + ttlMs;
    await this.db.query("INSERT INTO join_tokens (id, secret_hash, cell_id, expires_at) VALUES ($1, $2, $3, $4)", [
      id,
      hash(secret),
      cellId,
      new Date(expiresAt),
    ]);
    return { token: `${id}.${secret}`, expiresAt, cellId };
  }

  /** Consumes a token; returns the cell id it was bound to (or null). Throws UNAUTHENTICATED. */
  async consume(token: string, usedBy: string): Promise<{ cellId: string | null }> {
    const invalid = new WeftError("UNAUTHENTICATED", "invalid, expired or already used join token");
    const m = /^([0-9a-f]{16})\.([A-Za-z0-9_-]{32})$/.exec(token);
    if (!m) throw invalid;
    // Comparing SHA-256 digests in SQL leaks nothing useful about the secret itself.
    const res = await this.db.query<{ cell_id: string | null }>(
      `UPDATE join_tokens SET used_at = now(), used_by = $3
       WHERE id = $1 AND secret_hash = $2 AND used_at IS NULL AND expires_at > now() RETURNING cell_id`,
      [m[1], hash(m[2]!), usedBy],
    );
    const row = res.rows[0];
    if (!row) throw invalid;
    return { cellId: row.cell_id };
  }
}
