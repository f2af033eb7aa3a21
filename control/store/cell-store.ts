// Cells in the store: joining (which records the fingerprint of the cell certificate, so only the
// cell's current certificates are accepted), and each replica's batched write of the enforcement
// status of the cells streaming to it. Status is not desired state, so it bumps no revision.
import type { Db } from "./db.js";

export interface CellStatusRow {
  readonly cellId: string;
  readonly underlayIp: string | null;
  readonly enforcedRevision: number;
  readonly pendingRevision: number | null;
  readonly lastNack: { revision: number; error: string; at: number } | null;
  readonly lastContact: number | null;
  readonly connected: boolean;
}

interface Row {
  cell_id: string;
  underlay_ip: string | null;
  enforced_revision: number;
  pending_revision: number | null;
  last_nack_revision: number | null;
  last_nack_error: string | null;
  last_nack_at: Date | string | null;
  last_contact: Date | string | null;
  connected: boolean;
}

export class CellStore {
  constructor(private readonly db: Db) {}

  /** Records a newly issued cell certificate; keeps the previous one valid for the overlap. */
  async recordCertificate(cellId: string, fingerprint: string): Promise<void> {
    await this.db.query(
      `INSERT INTO cells (cell_id, cert_fingerprints) VALUES ($1, ARRAY[$2])
       ON CONFLICT (cell_id) DO UPDATE SET cert_fingerprints = ARRAY[$2] || cells.cert_fingerprints[1:1]`,
      [cellId, fingerprint],
    );
  }

  /** Replaces the cell's valid certificates with just this one (a fresh join). */
  async resetCertificate(cellId: string, fingerprint: string): Promise<void> {
    await this.db.query(
      `INSERT INTO cells (cell_id, cert_fingerprints) VALUES ($1, ARRAY[$2])
       ON CONFLICT (cell_id) DO UPDATE SET cert_fingerprints = ARRAY[$2], joined_at = now()`,
      [cellId, fingerprint],
    );
  }

  async certificateFingerprints(cellId: string): Promise<string[]> {
    const res = await this.db.query<{ cert_fingerprints: string[] }>("SELECT cert_fingerprints FROM cells WHERE cell_id = $1", [cellId]);
    return res.rows[0]?.cert_fingerprints ?? [];
  }

  async saveStatus(rows: readonly CellStatusRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.query(
      `UPDATE cells c SET underlay_ip = COALESCE(u.underlay_ip::inet, c.underlay_ip), enforced_revision = u.enforced,
         pending_revision = u.pending, last_nack_revision = COALESCE(u.nack_rev, c.last_nack_revision),
         last_nack_error = COALESCE(u.nack_err, c.last_nack_error), last_nack_at = COALESCE(u.nack_at, c.last_nack_at),
         last_contact = COALESCE(u.contact, c.last_contact), connected = u.connected
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::boolean[])
         AS u(cell_id, underlay_ip, enforced, pending, nack_rev, nack_err, nack_at, contact, connected)
       WHERE c.cell_id = u.cell_id`,
      [
        rows.map((r) => r.cellId),
        rows.map((r) => r.underlayIp),
        rows.map((r) => r.enforcedRevision),
        rows.map((r) => r.pendingRevision),
        rows.map((r) => r.lastNack?.revision ?? null),
        rows.map((r) => r.lastNack?.error ?? null),
        rows.map((r) => (r.lastNack ? new Date(r.lastNack.at) : null)),
        rows.map((r) => (r.lastContact ? new Date(r.lastContact) : null)),
        rows.map((r) => r.connected),
      ],
    );
  }

  /**
   * Marks connected cells with nothing pending as enforcing `revision` (what saveStatus would
   * write for them), in one statement. Never lowers a cell's enforced revision.
   */
  async markCurrent(cellIds: readonly string[], revision: number): Promise<void> {
    if (cellIds.length === 0) return;
    await this.db.query(
      "UPDATE cells SET enforced_revision = $1, pending_revision = NULL WHERE cell_id = ANY ($2::text[]) AND enforced_revision < $1",
      [revision, cellIds],
    );
  }

  async listStatus(): Promise<CellStatusRow[]> {
    const res = await this.db.query<Row>(
      `SELECT cell_id, host(underlay_ip) AS underlay_ip, enforced_revision, pending_revision, last_nack_revision, last_nack_error,
              last_nack_at, last_contact, connected FROM cells ORDER BY cell_id`,
    );
    return res.rows.map((r) => ({
      cellId: r.cell_id,
      underlayIp: r.underlay_ip,
      enforcedRevision: r.enforced_revision,
      pendingRevision: r.pending_revision,
      lastNack:
        r.last_nack_revision !== null
          ? { revision: r.last_nack_revision, error: r.last_nack_error ?? "", at: r.last_nack_at ? new Date(r.last_nack_at).getTime() : 0 }
          : null,
      lastContact: r.last_contact ? new Date(r.last_contact).getTime() : null,
      connected: r.connected,
    }));
  }

  /** Marks every cell as disconnected that this replica had connected (at shutdown). */
  async markDisconnected(cellIds: readonly string[]): Promise<void> {
    if (cellIds.length) await this.db.query("UPDATE cells SET connected = false WHERE cell_id = ANY ($1::text[])", [cellIds]);
  }
}
