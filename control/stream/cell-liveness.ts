// Which cells count as alive for DNS: streaming to some replica, or heard from within the grace
// period (default 180 s, as CF's service discovery prunes stale routes). Instances on a cell gone
// longer than that leave DNS answers but stay registered, and come back with the cell. The sweep
// reads the cells' status rows that all replicas write.
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { CellStore } from "../store/cell-store.js";

export class CellLivenessTracker {
  private readonly dead = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cells: CellStore,
    private readonly graceMs: number,
    private readonly onChange: (cells: ReadonlySet<string>) => void,
    private readonly log: Logger,
  ) {}

  readonly isLive = (cellId: string): boolean => !this.dead.has(cellId);

  start(everyMs = Math.min(15_000, Math.max(1000, this.graceMs / 4))): void {
    this.timer = setInterval(() => void this.sweep(), everyMs);
    this.timer.unref();
  }

  async sweep(now = Date.now()): Promise<void> {
    try {
      const rows = await this.cells.listStatus();
      const changed = new Set<string>();
      for (const r of rows) {
        const isDead = !r.connected && r.lastContact !== null && now - r.lastContact > this.graceMs;
        if (isDead !== this.dead.has(r.cellId)) {
          changed.add(r.cellId);
          if (isDead) this.dead.add(r.cellId);
          else this.dead.delete(r.cellId);
        }
      }
      if (changed.size) {
        this.log.info({ cells: [...changed], dead: [...this.dead] }, "cell-liveness-changed");
        this.onChange(changed);
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "cell-liveness-sweep-failed");
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
