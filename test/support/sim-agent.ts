// A light simulated cell agent: a real join, real mTLS gRPC and a real Sync stream, but no kernel.
// It keeps the desired state it is sent (snapshot + deltas) in maps, acks what it applies, and can
// be told to fail (nack) a revision. Used by the stream tests and the propagation benchmark.
import type { ControlMessage, InstanceCertificate } from "../../proto/types.js";
import { ControlState, ruleKey } from "../../cni/agent/control-state.js";
import { ControlClient } from "../../cni/control-link/control-client.js";
import { joinCell, type CellCredentials } from "../../cni/control-link/join.js";
import { SyncLoop } from "../../cni/control-link/sync-loop.js";

export { ruleKey };

export class SimAgent {
  /** The desired state as the real agent keeps it. */
  readonly state = new ControlState();
  readonly leases = this.state.leases;
  readonly instances = this.state.instances;
  readonly policies = this.state.policies;
  readonly received: ControlMessage[] = [];
  readonly certificates: InstanceCertificate[] = [];
  readonly client: ControlClient;
  enforced = 0;
  failRevisions = new Set<number>();
  /** Called when a revision has been applied (or failed). */
  onApplied: ((revision: number, ok: boolean) => void) | undefined;
  private loop: SyncLoop | undefined;

  constructor(
    readonly creds: CellCredentials,
    readonly underlayIp: string,
  ) {
    this.client = new ControlClient(creds);
  }

  static async join(opts: { apiUrl: string; apiCaPem: string; token: string; cellId: string; underlayIp: string; grpcEndpoint?: string }): Promise<SimAgent> {
    const creds = await joinCell({
      apiUrl: opts.apiUrl,
      apiCaPem: opts.apiCaPem,
      token: opts.token,
      cellId: opts.cellId,
      ...(opts.grpcEndpoint ? { grpcEndpoint: opts.grpcEndpoint } : {}),
    });
    return new SimAgent(creds, opts.underlayIp);
  }

  get cellId(): string {
    return this.creds.cellId;
  }

  startSync(): void {
    this.loop = new SyncLoop(
      this.client,
      {
        underlayIp: this.underlayIp,
        enforcedRevision: () => this.enforced,
        apply: (msg) => this.apply(msg),
        onCertificate: (c) => this.certificates.push(c),
      },
      undefined,
      { initialMs: 50, maxMs: 500 },
    );
    this.loop.start();
  }

  stopSync(): void {
    this.loop?.stop();
    this.loop = undefined;
  }

  close(): void {
    this.stopSync();
    this.client.close();
  }

  private apply(msg: ControlMessage): Promise<void> {
    this.received.push(msg);
    this.state.apply(msg);
    if (this.failRevisions.has(msg.revision)) {
      this.onApplied?.(msg.revision, false);
      return Promise.reject(new Error(`simulated failure at revision ${msg.revision}`));
    }
    this.enforced = Math.max(this.enforced, msg.revision);
    this.onApplied?.(msg.revision, true);
    return Promise.resolve();
  }
}
