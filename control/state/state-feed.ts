// Keeps DesiredState current. It loads everything once, then on every NOTIFY on weft_changes
// (from this replica or another) reads what changed since its revision as one consistent slice and
// applies it. Processing is serialised and coalesced: a burst of notifications becomes one read.
// A failed read is retried with backoff, never just logged, and a lost LISTEN connection triggers
// a catch-up read when it is back. Reads start at least minGapMs apart: a kick after a quiet
// spell reads at once, but under a steady stream of writes (each commit kicks the feed) a read
// covers minGapMs of changes instead of one commit's. Each read costs about a millisecond of CPU
// here and one in PostgreSQL however little it covers, so this bounds the feed's cost under load
// (at most 1000 / minGapMs reads a second) for at most minGapMs of extra delay.
import { setTimeout as sleep } from "node:timers/promises";
import { errorMessage } from "../../common/errors.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import type { Db } from "../store/db.js";
import { StateReader } from "../store/state-reader.js";
import { DesiredState, type Affected } from "./desired-state.js";

export type ChangeListener = (affected: Affected, state: DesiredState) => void;

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
  private lastReadAt = -Infinity;

  constructor(
    private readonly db: Db,
    private readonly log: Logger = silentLogger,
    private readonly minGapMs = 10,
  ) {
    this.reader = new StateReader(db);
  }

  async start(): Promise<void> {
    const slice = await this.reader.full();
    this.state.apply(slice);
    this.log.info({ revision: this.state.revision, policies: this.state.policies.size, instances: this.state.instances.size }, "state-loaded");
    this.unlisten = await this.db.listen("weft_changes", () => this.kick(), () => this.kick());
    this.kick();
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

  /** Asks for a catch-up read (a NOTIFY arrived, or a local commit happened). */
  kick(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.drain();
  }

  private async drain(): Promise<void> {
    try {
      do {
        this.again = false;
        const wait = this.lastReadAt + this.minGapMs - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.stopped) break;
        this.lastReadAt = performance.now();
        const slice = await this.reader.since(this.state.revision);
        if (slice) {
          const affected = this.state.apply(slice);
          for (const fn of this.listeners) {
            try {
              fn(affected, this.state);
            } catch (err) {
              this.log.error({ err: errorMessage(err) }, "state-listener-failed");
            }
          }
          for (const w of [...this.waiters]) {
            if (this.state.revision >= w.revision) {
              this.waiters.delete(w);
              w.resolve();
            }
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
    clearTimeout(this.retryTimer);
    await this.unlisten?.();
  }
}
