// Container certificates are pushed, never polled. For the cells streaming to this replica, it
// re-issues a container's certificate from the public key of its original CSR (the key never
// leaves the cell) when the app's internal routes changed (routes are SANs), and when it nears
// expiry (a sweep), then pushes it down the cell's stream.
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { StateFeed } from "../state/state-feed.js";
import { routesKey, type InstanceStore, type IssuedCertificateRecord } from "../store/instance-store.js";
import type { CellHub } from "./cell-hub.js";
import type { Signer } from "./signer.js";

export interface CertificatePusherOptions {
  /** Re-issue when less than this is left (default 8 h: a third of the 24 h validity). */
  readonly renewBeforeMs?: number;
  readonly sweepEveryMs?: number;
}

export class CertificatePusher {
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private readonly renewBeforeMs: number;

  constructor(
    private readonly feed: StateFeed,
    private readonly hub: CellHub,
    private readonly instances: InstanceStore,
    private readonly signer: Signer,
    private readonly log: Logger,
    private readonly opts: CertificatePusherOptions = {},
  ) {
    this.renewBeforeMs = opts.renewBeforeMs ?? 8 * 3_600_000;
    this.unsubscribe = feed.onChange((affected) => {
      if (!affected.kinds.has("routes") && !affected.kinds.has("full")) return;
      const apps = affected.apps === "all" ? [...feed.state.apps.keys()] : [...affected.apps];
      void this.reissueChangedRoutes(apps);
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.opts.sweepEveryMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe();
    clearInterval(this.timer);
  }

  private async reissueChangedRoutes(apps: string[]): Promise<void> {
    try {
      const issued = await this.instances.issuedCertificates(apps);
      for (const rec of issued) {
        if (!this.hub.session(rec.instance.cellId)) continue;
        if (rec.routesKey !== routesKey(this.routesOf(rec.instance.appGuid))) await this.reissue(rec, "routes-changed");
      }
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "certificate-reissue-failed");
    }
  }

  /** Renews certificates nearing expiry on the cells connected here. */
  async sweep(now = Date.now()): Promise<number> {
    try {
      const cells = this.hub.connectedCells();
      const due = await this.instances.certificatesDue(cells, now + this.renewBeforeMs);
      for (const rec of due) await this.reissue(rec, "expiring");
      return due.length;
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "certificate-sweep-failed");
      return 0;
    }
  }

  private routesOf(app: string): string[] {
    return [...(this.feed.state.routesByApp.get(app) ?? [])].sort();
  }

  private async reissue(rec: IssuedCertificateRecord, reason: string): Promise<void> {
    const inst = rec.instance;
    const routes = this.routesOf(inst.appGuid);
    const signed = await this.signer.signInstance({
      publicKeyPem: rec.publicKeyPem,
      instanceGuid: inst.instanceGuid,
      appGuid: inst.appGuid,
      spaceGuid: inst.spaceGuid,
      orgGuid: inst.orgGuid,
      routes,
    });
    await this.instances.recordCertificate(inst.instanceGuid, signed.publicKeyPem, signed.notAfter, routes);
    const pushed = this.hub.pushCertificate(inst.cellId, {
      instanceGuid: inst.instanceGuid,
      certificatePem: signed.certificatePem,
      caBundlePem: this.signer.trustBundlePem(),
      notAfter: signed.notAfter,
    });
    this.log.info({ instance: inst.instanceGuid, cell: inst.cellId, reason, pushed }, "certificate-reissued");
  }
}
