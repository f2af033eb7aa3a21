// One agent's Sync stream. After the agent's hello it sends a snapshot (or, when the agent says it
// already enforces the current revision, an empty delta that confirms it), then a delta whenever a
// change touches this cell, diffed against what was last sent. Acks are cumulative; a nack is
// recorded for status and the revision is not resent (the agent keeps the desired state and
// retries in its own reconcile loop; a later revision supersedes it). When the stream cannot take
// more, sends are coalesced until it drains.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { Logger } from "../../common/logger.js";
import type { AgentMessage, ControlMessage, InstanceCertificate } from "../../proto/types.js";
import { EMPTY_VIEW, buildCellView, diffCellViews, toSnapshot, type CellView } from "../state/cell-view.js";
import type { DesiredState } from "../state/desired-state.js";

export interface SessionStatus {
  readonly cellId: string;
  underlayIp: string | null;
  /** Highest revision the agent acked. */
  acked: number;
  /** Revisions sent and not yet acked, ascending. */
  unacked: number[];
  lastNack: { revision: number; error: string; at: number } | null;
  lastContact: number;
  connected: boolean;
}

export interface SessionHooks {
  readonly state: DesiredState;
  readonly caBundlePem: () => string;
  readonly onStatus: (s: SessionStatus) => void;
  readonly onNack: (cellId: string, revision: number, error: string) => void;
  readonly log: Logger;
}

type Call = ServerDuplexStream<AgentMessage, ControlMessage>;

export class CellSession {
  readonly status: SessionStatus;
  private sent: CellView | undefined;
  private writable = true;
  private dirty = false;
  private closed = false;

  constructor(
    readonly cellId: string,
    private readonly call: Call,
    private readonly hooks: SessionHooks,
  ) {
    this.status = { cellId, underlayIp: null, acked: 0, unacked: [], lastNack: null, lastContact: Date.now(), connected: true };
    call.on("drain", () => {
      this.writable = true;
      if (this.dirty) this.push();
    });
  }

  get helloReceived(): boolean {
    return this.sent !== undefined;
  }

  handle(msg: AgentMessage): void {
    this.status.lastContact = Date.now();
    switch (msg.kind) {
      case "hello":
        if (msg.hello) this.onHello(msg.hello.enforcedRevision, msg.hello.underlayIp);
        break;
      case "ack":
        if (msg.ack) this.onAck(msg.ack.revision);
        break;
      case "nack":
        if (msg.nack) this.onNack(msg.nack.revision, msg.nack.error);
        break;
      default:
        break;
    }
    this.hooks.onStatus(this.status);
  }

  /** The desired state changed in a way that may touch this cell. */
  changed(): void {
    if (this.sent !== undefined) this.push();
  }

  pushCertificate(cert: InstanceCertificate): void {
    // Certificates are not desired-state revisions: revision 0, and the agent does not ack them.
    this.write({ revision: 0, kind: "certificate", certificate: cert });
  }

  close(): void {
    this.closed = true;
    this.status.connected = false;
    this.hooks.onStatus(this.status);
  }

  private onHello(enforced: number, underlayIp: string): void {
    this.status.underlayIp = underlayIp || null;
    this.status.acked = Math.max(this.status.acked, enforced);
    const state = this.hooks.state;
    const view = buildCellView(state, this.cellId, this.hooks.caBundlePem());
    const revision = state.revision;
    if (this.sent === undefined && enforced > 0 && enforced === revision) {
      // Resume: the agent already enforces exactly this revision; confirm with an empty delta.
      this.sent = view;
      this.send({ revision, kind: "delta", delta: emptyDelta() });
      return;
    }
    this.sent = view;
    this.send({ revision, kind: "snapshot", snapshot: toSnapshot(view) });
  }

  private onAck(revision: number): void {
    if (revision > this.status.acked) this.status.acked = revision;
    this.status.unacked = this.status.unacked.filter((r) => r > revision);
  }

  private onNack(revision: number, error: string): void {
    this.status.lastNack = { revision, error: error.slice(0, 2000), at: Date.now() };
    this.hooks.onNack(this.cellId, revision, error);
  }

  private push(): void {
    if (!this.writable) {
      this.dirty = true;
      return;
    }
    this.dirty = false;
    const next = buildCellView(this.hooks.state, this.cellId, this.hooks.caBundlePem());
    const delta = diffCellViews(this.sent ?? EMPTY_VIEW, next);
    this.sent = next;
    if (delta) this.send({ revision: this.hooks.state.revision, kind: "delta", delta });
  }

  private send(msg: ControlMessage): void {
    if (msg.revision > 0) this.status.unacked.push(msg.revision);
    this.write(msg);
    this.hooks.onStatus(this.status);
  }

  private write(msg: ControlMessage): void {
    if (this.closed) return;
    try {
      if (!this.call.write(msg)) this.writable = false;
    } catch (err) {
      this.hooks.log.warn({ cell: this.cellId, err: (err as Error).message }, "stream-write-failed");
    }
  }
}

function emptyDelta() {
  return {
    leasesUpserted: [],
    leasesRemoved: [],
    instancesUpserted: [],
    instancesRemoved: [],
    policiesAdded: [],
    policiesRemoved: [],
    securityGroupsUpserted: [],
    securityGroupsRemoved: [],
    caBundlePem: "",
  };
}
