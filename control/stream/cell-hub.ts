// The sessions of the cells streaming to this replica. It fans each state change out to the
// sessions of the cells it touches (never to all, unless leases or everything changed), tracks
// their enforcement status, and writes that status to the store in batches so that any replica's
// /weft/v1/status sees every cell. A cell with nothing pending is current as of this replica's
// state revision: every revision makes all such cells current, so those marks are written apart,
// as one compact statement (revision + cell ids), rather than as a full status row per cell.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { Counter, Gauge, type Registry } from "prom-client";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { AgentMessage, ControlMessage, InstanceCertificate } from "../../proto/types.js";
import type { StateFeed } from "../state/state-feed.js";
import type { CellStatusRow, CellStore } from "../store/cell-store.js";
import { CellSession, type SessionStatus } from "./cell-session.js";

export class CellHub {
  private readonly sessions = new Map<string, CellSession>();
  private readonly dirty = new Map<string, SessionStatus>();
  /** Cells that became current as of a new revision and have no other status change to write. */
  private readonly current = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private readonly unsubscribe: () => void;
  private readonly nacks: Counter | undefined;
  private readonly connected: Gauge | undefined;

  constructor(
    private readonly feed: StateFeed,
    private readonly cells: CellStore,
    private readonly caBundlePem: () => string,
    private readonly log: Logger,
    registry?: Registry,
    private readonly flushEveryMs = 100,
  ) {
    this.nacks = registry && new Counter({ name: "weft_control_nacks_total", help: "Revisions nacked by cells", registers: [registry] });
    this.connected = registry && new Gauge({ name: "weft_control_connected_cells", help: "Cells streaming to this replica", registers: [registry] });
    this.unsubscribe = feed.onChange((affected) => {
      if (affected.cells === "all") {
        for (const s of this.sessions.values()) s.changed();
      } else {
        for (const cell of affected.cells) this.sessions.get(cell)?.changed();
      }
      // Cells with nothing pending have just become current as of the new revision. After its
      // hello every other field of a cell's row is written when it changes, so a mark suffices.
      for (const s of this.sessions.values()) {
        if (s.status.unacked.length > 0) continue;
        if (s.helloReceived) this.current.add(s.cellId);
        else this.markDirty(s.status);
      }
      if (this.current.size) this.schedule();
    });
  }

  attach(cellId: string, call: ServerDuplexStream<AgentMessage, ControlMessage>): CellSession {
    const previous = this.sessions.get(cellId);
    if (previous) {
      previous.close();
      this.log.info({ cell: cellId }, "stream-replaced");
    }
    const session = new CellSession(cellId, call, {
      state: this.feed.state,
      caBundlePem: this.caBundlePem,
      onStatus: (s) => this.markDirty(s),
      onNack: (cell, revision, error) => {
        this.nacks?.inc();
        this.log.warn({ cell, revision, error }, "revision-nacked");
      },
      log: this.log,
    });
    this.sessions.set(cellId, session);
    this.connected?.set(this.sessions.size);
    this.log.info({ cell: cellId }, "stream-opened");
    return session;
  }

  detach(session: CellSession): void {
    session.close();
    if (this.sessions.get(session.cellId) === session) {
      this.sessions.delete(session.cellId);
      this.connected?.set(this.sessions.size);
      this.log.info({ cell: session.cellId }, "stream-closed");
    }
  }

  connectedCells(): string[] {
    return [...this.sessions.keys()];
  }

  session(cellId: string): CellSession | undefined {
    return this.sessions.get(cellId);
  }

  pushCertificate(cellId: string, cert: InstanceCertificate): boolean {
    const s = this.sessions.get(cellId);
    if (!s) return false;
    s.pushCertificate(cert);
    return true;
  }

  /** The status row of a locally connected cell, as the store would have it after a flush. */
  localStatus(cellId: string): CellStatusRow | undefined {
    const s = this.sessions.get(cellId);
    return s ? this.toRow(s.status) : undefined;
  }

  private toRow(s: SessionStatus): CellStatusRow {
    const pending = s.unacked[0] ?? null;
    return {
      cellId: s.cellId,
      underlayIp: s.underlayIp,
      enforcedRevision: pending === null ? Math.max(s.acked, this.feed.state.revision) : s.acked,
      pendingRevision: pending,
      lastNack: s.lastNack,
      lastContact: s.lastContact,
      connected: s.connected,
    };
  }

  private markDirty(s: SessionStatus): void {
    this.dirty.set(s.cellId, s);
    this.schedule();
  }

  private schedule(): void {
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.flushEveryMs);
  }

  async flush(): Promise<void> {
    if (this.flushing || (this.dirty.size === 0 && this.current.size === 0)) return;
    this.flushing = true;
    const batch = [...this.dirty.values()];
    this.dirty.clear();
    // A current mark writes what toRow would for a cell with nothing pending (the state revision
    // as enforced, nothing pending). Cells written in full, gone, or no longer current are left out.
    const revision = this.feed.state.revision;
    const inBatch = new Set(batch.map((s) => s.cellId));
    const current: string[] = [];
    for (const id of this.current) {
      const s = this.sessions.get(id);
      if (s && s.status.unacked.length === 0 && !inBatch.has(id)) current.push(id);
    }
    this.current.clear();
    try {
      await this.cells.saveStatus(batch.map((s) => this.toRow(s)));
      await this.cells.markCurrent(current, revision);
    } catch (err) {
      // Keep them for the next try, unless a newer status superseded them meanwhile.
      for (const s of batch) if (!this.dirty.has(s.cellId)) this.dirty.set(s.cellId, s);
      for (const id of current) this.current.add(id);
      this.log.warn({ err: errorMessage(err), cells: batch.length + current.length }, "cell-status-flush-failed");
    } finally {
      this.flushing = false;
      if (this.dirty.size || this.current.size) this.schedule();
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    clearTimeout(this.flushTimer);
    const ids = [...this.sessions.keys()];
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
    await this.flush().catch(() => undefined);
    await this.cells.markDisconnected(ids).catch(() => undefined);
  }
}
