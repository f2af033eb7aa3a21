// Group commit for the store's hot writes (policy creates, app upserts). Writers are serialised on
// the revision row and each commit waits for its WAL flush, so one write per transaction caps a
// replica at one flush per write. Here, writes that arrive while a batch is in flight wait and go
// together in the next one: a single statement, one transaction, one flush. A batch of unquoted
// policy creates (admins) goes set-based through weft_apply_policy_creates (migration 006);
// anything else, or such a batch when that fails, goes through weft_apply (migration 004), where
// each write runs alone and in arrival order inside its own subtransaction. Either way each write
// gets its own revision or its own error. A write that arrives when nothing is in flight goes at once,
// so a lone write is not delayed.
//
// Busy writers that each wait for their answer (API clients) would otherwise settle into two
// alternating halves: those answered by one batch come back while the next, holding the others,
// is in flight. So after a batch the batcher waits (at most gatherMs) until as many writes as it
// just answered plus those already waiting are queued, and sends them as one batch; a writer that
// does not come back costs at most gatherMs once, after which the expected count follows what came.
// Measured with 8 clients (WEFT_BENCH_POLICIES=30000 node dist/bench/api.js, load 7-10): 3.9 ->
// 7.2 creates per batch, CPU per create 0.39-0.43 -> 0.28-0.38 ms (fewer commits and NOTIFYs).
//
// A committed batch is also reported as a CreatedDelta (the policies and the tags it claimed, the
// apps it registered, with its revision range) to the listeners of onCreated: the state feed of
// this replica applies it from memory instead of reading it back from the store. Batches with
// policy creates that went through weft_apply (quota creates, fallbacks) are not reported.
import { WeftError, isWeftError } from "../../common/errors.js";
import type { Policy, Protocol } from "../domain/types.js";
import type { AppInfo } from "./state-reader.js";
import type { Db } from "./db.js";
import { mapDbError } from "./db.js";

// jsonb cannot hold these, so one such string would fail the whole batch's input: refuse it alone.
// In u-mode, a paired surrogate is one code point; only unpaired ones match.
// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udfff]/u;

function holdsUnstorable(v: unknown): boolean {
  if (typeof v === "string") return UNSTORABLE.test(v);
  if (Array.isArray(v)) return v.some(holdsUnstorable);
  if (v !== null && typeof v === "object") return Object.values(v).some(holdsUnstorable);
  return false;
}

export type Write =
  | { readonly k: "policies"; readonly p: readonly unknown[]; readonly q: number | null }
  | { readonly k: "app"; readonly g: string; readonly n: string; readonly s: string; readonly o: string };

interface Pending {
  readonly write: Write;
  readonly weight: number;
  readonly resolve: (revision: number | null) => void;
  readonly reject: (err: Error) => void;
}

type Outcome = { rev: number | null; t?: [string, number][] } | { code: string; message: string };

/** What one committed batch changed: revisions first..last, every one of them. */
export interface CreatedDelta {
  readonly first: number;
  readonly last: number;
  /** The policies of the writes that got a revision (some may have existed before: adding is idempotent). */
  readonly policies: readonly Policy[];
  /** Tags claimed in the batch. */
  readonly tags: readonly (readonly [string, number])[];
  /** Apps registered or updated in the batch, as they now are. */
  readonly appRows: readonly AppInfo[];
  /** The apps named by the writes that got a revision (what their weft_changes rows list). */
  readonly apps: readonly string[];
  /** The kinds of their weft_changes rows. */
  readonly kinds: readonly string[];
}

interface PolicyRow {
  readonly s: string;
  readonly d: string;
  readonly p: Protocol;
  readonly a: number;
  readonly b: number;
}

/**
 * The delta of a committed batch, or undefined when its revisions are not one unbroken range or
 * when a policy create went through weft_apply (whose results do not report claimed tags).
 */
function deltaOf(batch: readonly Pending[], results: readonly Outcome[], setBased: boolean): CreatedDelta | undefined {
  const policies: Policy[] = [];
  const tags: [string, number][] = [];
  const appRows: AppInfo[] = [];
  const apps = new Set<string>();
  const kinds = new Set<string>();
  let first = Infinity;
  let last = -Infinity;
  let count = 0;
  for (let i = 0; i < batch.length; i++) {
    const r = results[i];
    const w = batch[i]!.write;
    if (r === undefined || "code" in r || r.rev === null) continue;
    count++;
    first = Math.min(first, r.rev);
    last = Math.max(last, r.rev);
    if (w.k === "app") {
      appRows.push({ guid: w.g, name: w.n, spaceGuid: w.s, orgGuid: w.o });
      apps.add(w.g);
      kinds.add("apps");
      continue;
    }
    if (!setBased) return undefined;
    kinds.add("policies");
    for (const row of w.p as readonly PolicyRow[]) {
      policies.push({ source: row.s, destination: row.d, protocol: row.p, startPort: row.a, endPort: row.b });
      apps.add(row.s);
      apps.add(row.d);
    }
    for (const [g, t] of r.t ?? []) tags.push([g, t]);
  }
  if (count === 0 || last - first + 1 !== count) return undefined;
  return { first, last, policies, tags, appRows, apps: [...apps], kinds: [...kinds] };
}

/** This replica's committed create batches, as the state feed consumes them. */
export interface LocalCreates {
  onCreated(fn: (delta: CreatedDelta) => void): () => void;
  settled(): Promise<void>;
}

export class WriteBatcher implements LocalCreates {
  private readonly queue: Pending[] = [];
  private running = false;
  private inFlight: Promise<unknown> = Promise.resolve();
  /** While gathering: the queue length that ends the wait, and how to end it. */
  private target = 0;
  private wake: (() => void) | undefined;
  private readonly createdListeners = new Set<(delta: CreatedDelta) => void>();

  /**
   * maxWrites stays well below 64 so that a batch's subtransactions fit PostgreSQL's per-backend
   * subtransaction cache; maxWeight (policies) keeps one batch's statement short.
   */
  constructor(
    private readonly db: Db,
    private readonly maxWrites = 32,
    private readonly maxWeight = 2000,
    private readonly gatherMs = 2,
  ) {}

  /** Resolves with the write's revision (null when it changed nothing), or rejects with its error. */
  submit(write: Write): Promise<number | null> {
    if (holdsUnstorable(write)) {
      return Promise.reject(new WeftError("INVALID_ARGUMENT", "text with NUL characters or unpaired surrogates cannot be stored"));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ write, weight: write.k === "policies" ? write.p.length : 1, resolve, reject });
      if (!this.running) void this.drain();
      else if (this.wake && this.queue.length >= this.target) this.wake();
    });
  }

  /** Called with each committed set-based batch, before its writers are answered. */
  onCreated(fn: (delta: CreatedDelta) => void): () => void {
    this.createdListeners.add(fn);
    return () => this.createdListeners.delete(fn);
  }

  /** Resolves once the batch in flight now (if any) has finished and reported its delta. */
  settled(): Promise<void> {
    return this.inFlight.then(
      () => undefined,
      () => undefined,
    );
  }

  private takeBatch(): Pending[] {
    let weight = 0;
    let n = 0;
    while (n < this.queue.length && n < this.maxWrites && (n === 0 || weight + this.queue[n]!.weight <= this.maxWeight)) {
      weight += this.queue[n]!.weight;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /**
   * A batch of unquoted policy creates in one set-based statement (migration 006). undefined when
   * the batch does not qualify or the statement failed in PostgreSQL (then nothing of it was
   * applied, and the caller runs it one write at a time). A lost connection is thrown: whether the
   * statement committed is unknown, so it must not run again.
   */
  private async applySetBased(batch: readonly Pending[], writes: string): Promise<Outcome[] | undefined> {
    if (!batch.every((b) => b.write.k === "policies" && b.write.q === null)) return undefined;
    try {
      const res = await this.db.query<{ results: Outcome[] }>("SELECT weft_apply_policy_creates($1::jsonb) AS results", [writes]);
      return res.rows[0]?.results ?? [];
    } catch (err) {
      if (isWeftError(err, "STORE_UNAVAILABLE")) throw err;
      return undefined;
    }
  }

  private async applyOneByOne(writes: string): Promise<Outcome[]> {
    const res = await this.db.query<{ results: Outcome[] }>("SELECT weft_apply($1::jsonb) AS results", [writes]);
    return res.rows[0]?.results ?? [];
  }

  private async apply(batch: readonly Pending[], writes: string): Promise<Outcome[]> {
    const set = await this.applySetBased(batch, writes);
    const results = set ?? (await this.applyOneByOne(writes));
    const delta = this.createdListeners.size > 0 ? deltaOf(batch, results, set !== undefined) : undefined;
    if (delta) {
      for (const fn of this.createdListeners) {
        try {
          fn(delta);
        } catch {
          // The batch has committed: a listener's failure must not fail its writes. The state
          // feed also learns of the batch from its NOTIFY and then reads it from the store.
        }
      }
    }
    return results;
  }

  /**
   * After a batch: the writers it just answered tend to write again at once, so wait (at most
   * gatherMs) until as many writes as that batch had plus those already waiting are queued, and
   * let them share the next batch instead of alternating in two halves.
   */
  private async gather(target: number): Promise<void> {
    if (this.queue.length >= target) return;
    this.target = target;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.wake?.(), this.gatherMs);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          const writes = JSON.stringify(batch.map((b) => b.write));
          const applying = this.apply(batch, writes);
          this.inFlight = applying;
          const results = await applying;
          batch.forEach((b, i) => {
            const r = results[i];
            if (r === undefined) b.reject(new Error(`weft_apply returned ${results.length} results for ${batch.length} writes`));
            else if ("code" in r) b.reject(mapDbError(r));
            else b.resolve(r.rev);
          });
        } catch (err) {
          for (const b of batch) b.reject(err instanceof Error ? err : new Error(String(err)));
        }
        if (this.gatherMs > 0) await this.gather(Math.min(this.maxWrites, batch.length + this.queue.length));
      }
    } finally {
      this.running = false;
    }
  }
}
