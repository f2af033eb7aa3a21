// Keeps DesiredState current. It loads everything once, then follows the store's changes, in
// revision order, from two sources:
// * batches of creates and app upserts this replica committed (the WriteBatcher's CreatedDelta):
//   applied from memory, since this replica already knows exactly which policies, tags and apps
//   they wrote, when they follow the state's revision without a gap;
// * every NOTIFY on weft_changes (from this replica or another), whose payload carries the
//   revision: when the state is behind it after the local deltas, what changed since its revision
//   is read as one consistent slice and applied.
// Processing is serialised and coalesced: a burst of notifications becomes one read. A failed read
// is retried with backoff, never just logged, and a lost LISTEN connection triggers a catch-up read
// when it is back. Passes start at least minGapMs apart: a kick after a quiet spell is served at
// once, but under a steady stream of writes (each commit kicks the feed) a pass covers minGapMs of
// changes instead of one commit's. A read costs about a millisecond of CPU here and one in
// PostgreSQL however little it covers, and the listeners' fan-out costs per pass, so this bounds
// the feed's cost under load for at most minGapMs of extra delay.
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../../common/errors.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import type { Db } from "../store/db.js";
import { StateReader } from "../store/state-reader.js";
import type { CreatedDelta, LocalCreates } from "../store/write-batcher.js";
import { DesiredState, type Affected } from "./desired-state.js";

export type ChangeListener = (affected: Affected, state: DesiredState) => void;

// More local deltas than this waiting for a gap to be read: drop them, the read covers them.
const MAX_PENDING_DELTAS = 10_000;

/** The revision a weft_changes NOTIFY names, or undefined when its payload says none. */
function notifiedRevision(payload: string): number | undefined {
  try {
    const r = (JSON.parse(payload) as { revision?: unknown }).revision;
    return typeof r === "number" && Number.isSafeInteger(r) ? r : undefined;
  } catch {
    return undefined;
  }
}

export class StateFeed {
  readonly state = new DesiredState();
  private readonly reader: StateReader;
  private readonly listeners = new Set<ChangeListener>();
  private readonly waiters = new Set<{ revision: number; resolve: () => void }>();
  private busy = false;
  private again = false;
  private retryDelay = 100;
  private retryTimer: NodeJS.Timeout | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private stopped = false;
  private lastPassAt = -Infinity;
  /** The highest revision known to be committed (notified, or committed here). */
  private wanted = 0;
  /** A read is due whatever `wanted` says (start, a resubscribed LISTEN, an unreadable NOTIFY, a failed pass). */
  private mustRead = false;
  private deltas: CreatedDelta[] = [];
  private unsubscribeLocal: (() => void) | undefined;
  /** Passes that read the store, and local deltas applied without a read (for tests and metrics). */
  readonly counts = { reads: 0, deltas: 0 };

  constructor(
    private readonly db: Db,
    private readonly log: Logger = silentLogger,
    private readonly minGapMs = 10,
    private readonly local?: LocalCreates,
  ) {
    this.reader = new StateReader(db);
  }

  async start(): Promise<void> {
    // Subscribed before the full load: a delta the load already covers is dropped, a later one applied.
    this.unsubscribeLocal = this.local?.onCreated((d) => this.addDelta(d));
    const slice = await this.reader.full();
    this.state.apply(slice);
    this.log.info({ revision: this.state.revision, policies: this.state.policies.size, instances: this.state.instances.size }, "state-loaded");
    this.unlisten = await this.db.listen("weft_changes", (payload) => this.kick(notifiedRevision(payload)), () => this.kick());
    this.kick();
  }

  private addDelta(d: CreatedDelta): void {
    if (this.stopped) return;
    if (this.deltas.length >= MAX_PENDING_DELTAS) {
      this.deltas = [];
      this.mustRead = true;
    }
    this.deltas.push(d);
    this.kick(d.last);
  }

  /** Applies the waiting local deltas that follow the state's revision; drops those it already has. */
  private applyDeltas(): Affected[] {
    const out: Affected[] = [];
    this.deltas.sort((a, b) => a.first - b.first);
    let kept = 0;
    for (const d of this.deltas) {
      if (d.last <= this.state.revision) continue;
      if (d.first === this.state.revision + 1) {
        out.push(this.state.applyCreated(d));
        this.counts.deltas++;
      } else {
        this.deltas[kept++] = d;
      }
    }
    this.deltas.length = kept;
    return out;
  }

  onChange(fn: ChangeListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves once the state includes `revision` (or the timeout passes; then it rejects). */
  waitFor(revision: number, timeoutMs = 5000): Promise<void> {
    if (this.state.revision >= revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`state did not reach revision ${revision} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
      this.kick();
    });
  }

  /**
   * Asks for a pass: the store has reached `revision` (a NOTIFY or a local commit said so), or,
   * without one, the state must be read whatever the revision.
   */
  kick(revision?: number): void {
    if (this.stopped) return;
    if (revision === undefined) this.mustRead = true;
    else this.wanted = Math.max(this.wanted, revision);
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.drain();
  }

  private publish(affected: Affected): void {
    for (const fn of this.listeners) {
      try {
        fn(affected, this.state);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, "state-listener-failed");
      }
    }
  }

  private behind(): boolean {
    return this.mustRead || this.wanted > this.state.revision;
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        const wait = this.lastPassAt + this.minGapMs - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.stopped) break;
        this.lastPassAt = performance.now();
        const affected = this.applyDeltas();
        if (this.behind() && this.local) {
          // A NOTIFY may arrive before the answer to the batch that committed it: let the batch in
          // flight report its delta before reading what it may already describe.
          await this.local.settled();
          affected.push(...this.applyDeltas());
        }
        if (this.behind()) {
          this.mustRead = false;
          const slice = await this.reader.since(this.state.revision);
          this.counts.reads++;
          if (slice) affected.push(this.state.apply(slice));
          // Deltas the read covered are dropped; any that follow it can go now.
          affected.push(...this.applyDeltas());
        }
        for (const a of affected) this.publish(a);
        for (const w of [...this.waiters]) {
          if (this.state.revision >= w.revision) {
            this.waiters.delete(w);
            w.resolve();
          }
        }
      } while (this.again && !this.stopped);
      this.retryDelay = 100;
      this.busy = false;
    } catch (err) {
      this.busy = false;
      this.log.warn({ err: errorMessage(err), retryInMs: this.retryDelay }, "state-read-failed");
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.kick(), this.retryDelay);
      this.retryDelay = Math.min(this.retryDelay * 2, 5000);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribeLocal?.();
    clearTimeout(this.retryTimer);
    await this.unlisten?.();
  }
}
