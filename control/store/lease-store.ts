// Leases in the store, with silk-controller semantics: acquire is idempotent per underlay IP and
// otherwise takes a random free block, reclaiming the oldest expired lease when none is free;
// renew keeps a lease (409-style CONFLICT on a mismatch, re-insert when absent); release is
// explicit and a missing lease is fine. Changes to the set of leases bump the revision, since
// every cell routes to every lease.
import { WeftError } from "../../common/errors.js";
import { pickRandom, type LeasePool } from "../leases/lease-pool.js";
import type { Store } from "./store.js";

export interface LeaseRecord {
  readonly underlayIp: string;
  readonly overlaySubnet: string;
  readonly cellId: string;
  readonly expiresAt: number;
}

interface LeaseRow {
  underlay_ip: string;
  overlay_subnet: string;
  cell_id: string;
  expires_at: Date | string;
}

function toLease(r: LeaseRow): LeaseRecord {
  return {
    underlayIp: r.underlay_ip,
    overlaySubnet: r.overlay_subnet,
    cellId: r.cell_id,
    expiresAt: new Date(r.expires_at).getTime(),
  };
}

const COLUMNS = "host(underlay_ip) AS underlay_ip, overlay_subnet::text AS overlay_subnet, cell_id, expires_at";

export class LeaseStore {
  constructor(
    private readonly store: Store,
    private readonly pool: LeasePool,
    private readonly ttlMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  async acquire(cellId: string, underlayIp: string): Promise<LeaseRecord> {
    const { result } = await this.store.mutate(async (tx) => {
      const expires = new Date(Date.now() + this.ttlMs);
      const mine = await tx.query<LeaseRow>(`SELECT ${COLUMNS} FROM leases WHERE underlay_ip = $1::inet`, [underlayIp]);
      const held = mine.rows[0];
      if (held && this.pool.contains(held.overlay_subnet)) {
        const res = await tx.query<LeaseRow>(
          `UPDATE leases SET renewed_at = now(), expires_at = $2, cell_id = $3 WHERE underlay_ip = $1::inet RETURNING ${COLUMNS}`,
          [underlayIp, expires, cellId],
        );
        const changed = held.cell_id !== cellId || new Date(held.expires_at).getTime() < Date.now();
        return { result: toLease(res.rows[0]!), changed, kind: "leases", detail: { cells: [cellId] } };
      }
      // A lease outside the configured overlay (the overlay changed) is dropped first.
      if (held) await tx.query("DELETE FROM leases WHERE underlay_ip = $1::inet", [underlayIp]);
      const all = await tx.query<LeaseRow>(`SELECT ${COLUMNS} FROM leases ORDER BY expires_at`);
      const taken = new Set(all.rows.map((r) => r.overlay_subnet));
      let subnet = pickRandom(this.pool.blocks().filter((b) => !taken.has(b)), this.random);
      if (subnet === undefined) {
        const oldestExpired = all.rows.find((r) => new Date(r.expires_at).getTime() < Date.now() && this.pool.contains(r.overlay_subnet));
        if (!oldestExpired) {
          throw new WeftError("CONFLICT", `no free overlay subnet: all ${this.pool.blocks().length} /${this.pool.subnetPrefix} blocks of ${this.pool.network} are leased`);
        }
        await tx.query("DELETE FROM leases WHERE underlay_ip = $1::inet", [oldestExpired.underlay_ip]);
        subnet = oldestExpired.overlay_subnet;
      }
      const res = await tx.query<LeaseRow>(
        `INSERT INTO leases (underlay_ip, overlay_subnet, cell_id, expires_at) VALUES ($1::inet, $2::cidr, $3, $4) RETURNING ${COLUMNS}`,
        [underlayIp, subnet, cellId, expires],
      );
      return { result: toLease(res.rows[0]!), changed: true, kind: "leases", detail: { cells: [cellId] } };
    });
    return result;
  }

  async renew(cellId: string, lease: { underlayIp: string; overlaySubnet: string }): Promise<LeaseRecord> {
    if (!this.pool.contains(lease.overlaySubnet)) {
      throw new WeftError("CONFLICT", `lease mismatch: ${lease.overlaySubnet} is not a block of ${this.pool.network}`);
    }
    const { result } = await this.store.mutate(async (tx) => {
      const expires = new Date(Date.now() + this.ttlMs);
      const existing = await tx.query<LeaseRow>(
        `SELECT ${COLUMNS} FROM leases WHERE underlay_ip = $1::inet OR overlay_subnet = $2::cidr`,
        [lease.underlayIp, lease.overlaySubnet],
      );
      const exact = existing.rows.find((r) => r.underlay_ip === lease.underlayIp && r.overlay_subnet === lease.overlaySubnet);
      if (existing.rows.length && !exact) throw new WeftError("CONFLICT", "lease mismatch");
      if (exact) {
        const res = await tx.query<LeaseRow>(
          `UPDATE leases SET renewed_at = now(), expires_at = $2, cell_id = $3 WHERE underlay_ip = $1::inet RETURNING ${COLUMNS}`,
          [lease.underlayIp, expires, cellId],
        );
        const changed = exact.cell_id !== cellId || new Date(exact.expires_at).getTime() < Date.now();
        return { result: toLease(res.rows[0]!), changed, kind: "leases", detail: { cells: [cellId] } };
      }
      const res = await tx.query<LeaseRow>(
        `INSERT INTO leases (underlay_ip, overlay_subnet, cell_id, expires_at) VALUES ($1::inet, $2::cidr, $3, $4) RETURNING ${COLUMNS}`,
        [lease.underlayIp, lease.overlaySubnet, cellId, expires],
      );
      return { result: toLease(res.rows[0]!), changed: true, kind: "leases", detail: { cells: [cellId] } };
    });
    return result;
  }

  async release(cellId: string, underlayIp: string): Promise<void> {
    await this.store.mutate(async (tx) => {
      const res = await tx.query("DELETE FROM leases WHERE underlay_ip = $1::inet AND cell_id = $2", [underlayIp, cellId]);
      return { result: undefined, changed: res.rowCount > 0, kind: "leases", detail: { cells: [cellId] } };
    });
  }

  /** The cell's unexpired leases, read from the store (not from a possibly lagging cache). */
  async ofCell(cellId: string): Promise<LeaseRecord[]> {
    const res = await this.store.db.query<LeaseRow>(`SELECT ${COLUMNS} FROM leases WHERE cell_id = $1 AND expires_at > now()`, [cellId]);
    return res.rows.map(toLease);
  }

  /** Unexpired leases (the routable ones). */
  async list(): Promise<LeaseRecord[]> {
    const res = await this.store.db.query<LeaseRow>(`SELECT ${COLUMNS} FROM leases WHERE expires_at > now() ORDER BY overlay_subnet`);
    return res.rows.map(toLease);
  }
}
