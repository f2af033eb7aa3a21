// One cell's agent: it holds the cell's lease, keeps the Sync stream to control, turns control's
// desired state plus the cell's containers into kernel state through the reconciler (on every
// change, and on a timer that observes the kernel and repairs drift), acks each revision once it
// is enforced, and serves the CNI plugin. The last control state is kept on disk, so an agent
// restarted while control is away keeps enforcing what it had (fail static) instead of an empty set.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { channelPaths, parseContainerFile, writeSidecarContainer } from "../../common/sidecar-contract.js";
import type { ControlMessage, InstanceCertificate, Lease } from "../../proto/types.js";
import type { ControlClient } from "../control-link/control-client.js";
import type { CellUpkeep } from "../control-link/cell-upkeep.js";
import { SyncLoop } from "../control-link/sync-loop.js";
import type { Kernel } from "../kernel/kernel-types.js";
import { DNS_IP } from "../kernel/names.js";
import { CellReconciler } from "../plan/cell-reconciler.js";
import type { AgentConfig } from "./agent-config.js";
import { ContainerStore, type ContainerRecord } from "./container-store.js";
import { ControlState } from "./control-state.js";
import { desiredCell } from "./desired-cell.js";
import { Ipam } from "./ipam.js";

interface Waiter {
  revision: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class CellAgent {
  readonly containers: ContainerStore;
  readonly state = new ControlState();
  private lease: Lease | undefined;
  private ipamInstance: Ipam | undefined;
  private readonly reconciler: CellReconciler;
  private sync: SyncLoop | undefined;
  private queue: Promise<void> = Promise.resolve();
  private enforced = 0;
  private lastReconcileError: string | undefined;
  /** Why the last attempt to acquire the lease failed (control away, pool exhausted, ...). */
  private leaseError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<Waiter>();
  private readonly keys = new Map<string, string>();

  constructor(
    readonly config: AgentConfig,
    private readonly controlClient: ControlClient,
    kernel: Kernel,
    private readonly log: Logger,
    /** Renews the lease and the cell certificate and follows trust-bundle changes (weft agent). */
    private readonly upkeep?: CellUpkeep,
  ) {
    this.containers = new ContainerStore(config.stateDir);
    this.reconciler = new CellReconciler({ kernel, netns: config.netns, logger: log.child({ component: "reconciler" }) });
    this.loadState();
  }

  client(): ControlClient {
    return this.controlClient;
  }

  get hasLease(): boolean {
    return this.lease !== undefined;
  }

  ipam(): Ipam {
    if (!this.ipamInstance) throw new Error("the cell has no lease yet");
    return this.ipamInstance;
  }

  /** Acquires the lease (retrying while control is unreachable), converges, and starts syncing. */
  async start(signal?: AbortSignal): Promise<void> {
    let delay = 200;
    for (;;) {
      try {
        this.lease = await this.controlClient.acquireLease(this.config.underlayIp);
        this.leaseError = undefined;
        break;
      } catch (err) {
        if (signal?.aborted) throw err;
        this.leaseError = errorMessage(err);
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, "lease-acquire-failed");
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    this.ipamInstance = new Ipam(this.config.stateDir, this.lease.overlaySubnet);
    this.log.info({ subnet: this.lease.overlaySubnet }, "lease-acquired");
    this.upkeep?.start(this.lease);
    await this.reconcile(true).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, "initial-reconcile-failed"));
    this.sync = new SyncLoop(
      this.controlClient,
      {
        underlayIp: this.config.underlayIp,
        enforcedRevision: () => this.enforced,
        apply: (msg) => this.applyControl(msg),
        onCertificate: (cert) => {
          this.installCertificate(cert).catch((err: unknown) =>
            this.log.warn({ err: errorMessage(err), instance: cert.instanceGuid }, "instance-certificate-install-failed"),
          );
        },
      },
      this.log.child({ component: "sync" }),
    );
    this.sync.start();
    this.timer = setInterval(() => {
      this.reconcile(true).catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, "periodic-reconcile-failed"));
    }, this.config.reconcileEveryMs);
    this.timer.unref();
  }

  /** Why the agent cannot take containers right now, or undefined when it can. */
  readiness(): string | undefined {
    if (!this.lease) return this.leaseError ? `no lease yet: ${this.leaseError}` : "no lease yet";
    if (!this.state.hasSnapshot) return "no state from control yet";
    if (this.lastReconcileError) return `kernel not converged: ${this.lastReconcileError}`;
    return undefined;
  }

  private async applyControl(msg: ControlMessage): Promise<void> {
    this.state.apply(msg);
    this.saveState();
    this.upkeep?.trustBundle(this.state.caBundlePem);
    await this.reconcile(false);
    this.enforced = Math.max(this.enforced, msg.revision);
    this.settleWaiters();
  }

  /** Reconciles the kernel to the desired state; serialised. observe: re-read the kernel first. */
  reconcile(observe: boolean): Promise<void> {
    const run = async () => {
      if (!this.lease) return;
      const desired = desiredCell(
        {
          overlayCidr: this.config.overlayNetwork,
          lease: { subnet: this.lease.overlaySubnet, underlayIp: this.config.underlayIp },
          underlayDev: this.config.underlayDev,
          dnsIp: DNS_IP,
          ...(this.config.hostServices ? { hostServices: this.config.hostServices } : {}),
          ...(this.config.asgLogging ? { asgLogging: true } : {}),
        },
        this.state,
        this.containers.all(),
      );
      try {
        const res = await this.reconciler.reconcile(desired, { observe });
        this.lastReconcileError = undefined;
        if (res.ops.length) this.log.info({ ops: res.ops.length, observed: res.observed, ms: Math.round(res.durationMs) }, "kernel-reconciled");
      } catch (err) {
        this.lastReconcileError = errorMessage(err);
        throw err;
      }
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves once `revision` is enforced here (or rejects after timeoutMs). */
  waitEnforced(revision: number, timeoutMs: number): Promise<void> {
    if (this.enforced >= revision) return this.reconcile(false);
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        revision,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(new Error(`revision ${revision} was not enforced within ${timeoutMs} ms (control unreachable?)`));
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  private settleWaiters(): void {
    for (const w of [...this.waiters]) {
      if (this.enforced >= w.revision) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  async removeContainer(containerId: string, ifname: string): Promise<void> {
    const rec = this.containers.remove(containerId, ifname);
    if (rec && this.config.sidecarDir) {
      const { removeSidecarContainer } = await import("../../common/sidecar-contract.js");
      await removeSidecarContainer(this.config.sidecarDir, rec.metadata.instanceGuid);
    }
    await this.reconcile(false);
    this.ipamInstance?.release(containerId, ifname);
    if (rec) {
      this.keys.delete(rec.metadata.instanceGuid);
      // Control may be down: DEL still succeeds; the instance is deregistered when it is back.
      this.controlClient.deregisterInstance(rec.metadata.instanceGuid).catch((err: unknown) => {
        this.log.warn({ instance: rec.metadata.instanceGuid, err: errorMessage(err) }, "deregister-deferred");
        this.deferDeregister(rec.metadata.instanceGuid);
      });
    }
  }

  private deferDeregister(instanceGuid: string): void {
    const retry = setTimeout(() => {
      this.controlClient.deregisterInstance(instanceGuid).catch(() => this.deferDeregister(instanceGuid));
    }, 2000);
    retry.unref();
  }

  async checkContainer(_rec: ContainerRecord): Promise<void> {
    await this.reconcile(true);
  }

  releaseOrphanAddresses(): void {
    const known = new Set(this.containers.all().map((c) => `${c.containerId}@${c.ifname}`));
    for (const a of this.ipamInstance?.list() ?? []) if (!known.has(`${a.containerId}@${a.ifname}`)) this.ipamInstance?.release(a.containerId, a.ifname);
  }

  /**
   * A certificate control pushed (re-issued for new routes, or before expiry) from the public key
   * of the container's original CSR: handed to the sidecar with the key that never left the cell.
   */
  private async installCertificate(cert: InstanceCertificate): Promise<void> {
    const dir = this.config.sidecarDir;
    if (!dir) return;
    const rec = this.containers.all().find((c) => c.metadata.instanceGuid === cert.instanceGuid);
    if (!rec) return; // not (or no longer) on this cell
    let keyPem = this.keys.get(cert.instanceGuid);
    if (keyPem === undefined) {
      // After an agent restart the key is only in what the sidecar serves.
      const text = await readFile(channelPaths(dir).container(cert.instanceGuid), "utf8").catch(() => undefined);
      if (text === undefined) return; // ADD has not handed the container to the sidecar yet
      keyPem = parseContainerFile(text).credentials.keyPem;
    }
    await writeSidecarContainer(dir, {
      instanceGuid: cert.instanceGuid,
      netnsPath: rec.netns,
      containerIp: rec.ip,
      credentials: { keyPem, certificateChainPem: cert.certificatePem, caBundlePem: cert.caBundlePem },
    });
    this.log.info({ instance: cert.instanceGuid, notAfter: new Date(cert.notAfter).toISOString() }, "instance-certificate-installed");
  }

  rememberKey(instanceGuid: string, keyPem: string): void {
    this.keys.set(instanceGuid, keyPem);
  }

  private stateFile(): string {
    return join(this.config.stateDir, "control-state.json");
  }

  private saveState(): void {
    const snapshot = {
      revision: this.state.revision,
      leases: [...this.state.leases.values()],
      instances: [...this.state.instances.values()],
      policies: [...this.state.policies.values()],
      securityGroups: [...this.state.securityGroups.values()],
      caBundlePem: this.state.caBundlePem,
    };
    writeFileSync(`${this.stateFile()}.tmp`, JSON.stringify(snapshot), { mode: 0o600 });
    renameSync(`${this.stateFile()}.tmp`, this.stateFile());
  }

  private loadState(): void {
    if (!existsSync(this.stateFile())) return;
    try {
      const s = JSON.parse(readFileSync(this.stateFile(), "utf8")) as ControlMessage["snapshot"] & { revision: number };
      this.state.apply({ revision: s.revision, kind: "snapshot", snapshot: s, delta: null, certificate: null } as unknown as ControlMessage);
      // What was saved was enforced before the restart; the kernel still holds it.
      this.enforced = s.revision;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "saved-control-state-unreadable");
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.upkeep?.stop();
    this.sync?.stop();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error("agent stopping"));
    }
    this.waiters.clear();
  }
}
