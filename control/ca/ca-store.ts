// The only code that touches ca_roots. Every change runs through Store.mutate: one transaction that
// first takes the revision lock (weft_lock), so CA changes from several replicas are serialised and
// each sees the others' committed rows, and then bumps the revision (kind "ca"), which NOTIFYs the
// other replicas (they call PlatformCa.reload) and tells the stream that trust bundles changed.
// The unique index on the active state is the backstop: there is never more than one active root.
import type { Store } from "../store/store.js";
import type { PemPair } from "./root-ca.js";

export type CaRootState = "active" | "previous" | "retired";

export interface CaRootRecord extends PemPair {
  readonly id: number;
  readonly state: CaRootState;
}

interface Row {
  id: number;
  cert_pem: string;
  key_pem: string;
  state: CaRootState;
}

const toRecord = (r: Row): CaRootRecord => ({ id: r.id, certPem: r.cert_pem, keyPem: r.key_pem, state: r.state });

export const CA_CHANGE_KIND = "ca";

export class CaStore {
  constructor(private readonly store: Pick<Store, "db" | "mutate">) {}

  /** The active root and, during a rotation, the previous one (active first). */
  async trusted(): Promise<CaRootRecord[]> {
    const res = await this.store.db.query<Row>(
      "SELECT id, cert_pem, key_pem, state FROM ca_roots WHERE state IN ('active', 'previous') ORDER BY state = 'active' DESC, id DESC",
    );
    return res.rows.map(toRecord);
  }

  /**
   * Makes `candidate` the active root unless one exists. With `replaceIf`, an existing active root
   * for which it returns true is moved to previous and the candidate takes its place (an
   * operator-given root that differs from the stored one). Returns the active root afterwards.
   */
  async ensureActive(
    candidate: PemPair,
    replaceIf: (active: CaRootRecord) => boolean = () => false,
  ): Promise<{ root: CaRootRecord; created: boolean }> {
    const { result } = await this.store.mutate(async (tx) => {
      const cur = await tx.query<Row>("SELECT id, cert_pem, key_pem, state FROM ca_roots WHERE state = 'active'");
      const active = cur.rows[0];
      if (active && !replaceIf(toRecord(active))) {
        return { result: { root: toRecord(active), created: false }, changed: false, kind: CA_CHANGE_KIND };
      }
      if (active) {
        await tx.query("UPDATE ca_roots SET state = 'retired' WHERE state = 'previous'");
        await tx.query("UPDATE ca_roots SET state = 'previous' WHERE id = $1", [active.id]);
      }
      const ins = await tx.query<Row>(
        "INSERT INTO ca_roots (cert_pem, key_pem, state) VALUES ($1, $2, 'active') RETURNING id, cert_pem, key_pem, state",
        [candidate.certPem, candidate.keyPem],
      );
      const root = toRecord(ins.rows[0]!);
      return {
        result: { root, created: true },
        changed: true,
        kind: CA_CHANGE_KIND,
        detail: { event: active ? "rotated" : "root-created", active: root.id, ...(active ? { previous: active.id } : {}) },
      };
    });
    return result;
  }

  /** One transaction: previous -> retired, active -> previous, `next` -> active. */
  async rotate(next: PemPair): Promise<CaRootRecord> {
    return this.ensureActive(next, () => true).then((r) => r.root);
  }

  /** Ends the overlap: the previous root is no longer trusted. Returns whether there was one. */
  async retirePrevious(): Promise<boolean> {
    const { result } = await this.store.mutate(async (tx) => {
      const res = await tx.query<{ id: number }>("UPDATE ca_roots SET state = 'retired' WHERE state = 'previous' RETURNING id");
      const ids = res.rows.map((r) => r.id);
      return { result: ids.length > 0, changed: ids.length > 0, kind: CA_CHANGE_KIND, detail: { event: "previous-retired", retired: ids } };
    });
    return result;
  }
}
