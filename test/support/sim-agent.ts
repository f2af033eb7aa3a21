// A light simulated cell agent: a real join, real mTLS gRPC and a real Sync stream, but no kernel.
// It keeps the desired state it is sent (snapshot + deltas) in maps, acks what it applies, and can
// be told to fail (nack) a revision. Used by the stream tests and the propagation benchmark.
import type { ControlMessage, InstanceCertificate, Lease, PolicyRule, Instance } from "../../proto/types.js";
import { ControlClient } from "../../cni/control/control-client.js";
import { joinCell, type CellCredentials } from "../../cni/control/join.js";
import { SyncLoop } from "../../cni/control/sync-loop.js";

export const ruleKey = (p: PolicyRule) => `${p.sourceApp}|${p.destApp}|${p.protocol}|${p.startPort}|${p.endPort}`;

export class SimAgent {
  readonly leases = new Map<string, Lease>();
  readonly instances = new Map<string, Instance>();
  readonly policies = new Map<string, PolicyRule>();
  readonly received: ControlMessage[] = [];
  readonly certificates: InstanceCertificate[] = [];
  readonly client: ControlClient;
  enforced = 0;
  caBundlePem = "";
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
    if (msg.kind === "snapshot" && msg.snapshot) {
      const s = msg.snapshot;
      this.leases.clear();
      this.instances.clear();
      this.policies.clear();
      for (const l of s.leases) this.leases.set(l.overlaySubnet, l);
      for (const i of s.instances) this.instances.set(i.instanceGuid, i);
      for (const p of s.policies) this.policies.set(ruleKey(p), p);
      this.caBundlePem = s.caBundlePem;
    } else if (msg.kind === "delta" && msg.delta) {
      const d = msg.delta;
      for (const l of d.leasesUpserted) this.leases.set(l.overlaySubnet, l);
      for (const k of d.leasesRemoved) this.leases.delete(k);
      for (const i of d.instancesUpserted) this.instances.set(i.instanceGuid, i);
      for (const k of d.instancesRemoved) this.instances.delete(k);
      for (const p of d.policiesAdded) this.policies.set(ruleKey(p), p);
      for (const p of d.policiesRemoved) this.policies.delete(ruleKey(p));
      if (d.caBundlePem) this.caBundlePem = d.caBundlePem;
    }
    if (this.failRevisions.has(msg.revision)) {
      this.onApplied?.(msg.revision, false);
      return Promise.reject(new Error(`simulated failure at revision ${msg.revision}`));
    }
    this.enforced = Math.max(this.enforced, msg.revision);
    this.onApplied?.(msg.revision, true);
    return Promise.resolve();
  }
}
