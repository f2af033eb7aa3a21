// What keeps a joined cell's standing with control over weeks, not minutes: the lease is renewed
// at a third of its lifetime, the cell certificate when two thirds of its validity have passed
// (with a fresh key, through RenewCellCertificate), and a trust bundle that control changes (a CA
// rotation: both roots during the overlap) replaces the cell's. New credentials are written to the
// cell directory first (the DNS server beside the agent reads them from there when it reconnects),
// then handed to the client, so new calls and the next Sync stream use them while the open stream
// carries on. A failed attempt is retried with backoff; the deadlines leave days of margin.
import type { CellCredentials } from "../../common/cell-credentials.js";
import { saveCellCredentials } from "../../common/cell-credentials.js";
import { backoffDelay } from "../../common/backoff.js";
import { certificateValidity } from "../../common/certificate-validity.js";
import { generateKeyAndCsr } from "../../common/csr.js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type * as pb from "../../proto/types.js";

/** What the upkeep needs of the control client. */
export interface UpkeepClient {
  renewLease(lease: pb.Lease): Promise<pb.Lease>;
  renewCellCertificate(csrPem: string): Promise<pb.CellCertificate>;
  useCredentials(creds: CellCredentials): void;
}

export interface CellUpkeepOptions {
  readonly client: UpkeepClient;
  readonly credentialsDir: string;
  readonly credentials: CellCredentials;
  readonly logger: Logger;
  readonly clock?: () => number;
  /** Longest wait between checks; default 1 h. */
  readonly maxWaitMs?: number;
  /** Shortest wait between attempts; default 1 s. */
  readonly minWaitMs?: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class CellUpkeep {
  private creds: CellCredentials;
  private lease: pb.Lease | undefined;
  private leaseGrantedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private running = false;
  private stopped = false;
  private readonly clock: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: CellUpkeepOptions) {
    this.creds = opts.credentials;
    this.clock = opts.clock ?? Date.now;
    this.log = opts.logger.child({ component: "upkeep" });
  }

  get credentials(): CellCredentials {
    return this.creds;
  }

  /** Starts keeping this lease (the one acquired at start). */
  start(lease: pb.Lease): void {
    this.lease = lease;
    this.leaseGrantedAt = this.clock();
    this.schedule(0);
  }

  /** Control sent a trust bundle (snapshot or delta); a different one replaces the cell's. */
  trustBundle(caBundlePem: string): void {
    if (this.stopped || caBundlePem === "" || caBundlePem === this.creds.caBundlePem) return;
    this.replace({ ...this.creds, caBundlePem }, "trust-bundle-updated");
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** When the lease is due for renewal: a third of the way from its grant to its expiry. */
  private leaseDueAt(): number {
    if (!this.lease) return Infinity;
    const expires = Number(this.lease.expiresAt);
    return this.leaseGrantedAt + (expires - this.leaseGrantedAt) / 3;
  }

  /** When the certificate is due for renewal: two thirds of the way through its validity. */
  private certificateDueAt(): number {
    const { notBefore, notAfter } = certificateValidity(this.creds.certificatePem);
    return notBefore + ((notAfter - notBefore) * 2) / 3;
  }

  private nextDue(): number {
    return Math.min(this.clock() + (this.opts.maxWaitMs ?? 3_600_000), this.leaseDueAt(), this.certificateDueAt());
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      await this.renewDue();
      this.failures = 0;
      this.schedule(Math.max(this.opts.minWaitMs ?? 1000, this.nextDue() - this.clock()));
    } catch (err) {
      const retryInMs = Math.max(this.opts.minWaitMs ?? 1000, backoffDelay(this.failures++, { initialMs: 1000, maxMs: 60_000 }));
      this.log.warn({ err: errorMessage(err), retryInMs }, "upkeep-failed");
      this.schedule(retryInMs);
    } finally {
      this.running = false;
    }
  }

  private async renewDue(): Promise<void> {
    if (this.lease && this.clock() >= this.leaseDueAt()) {
      const grantedAt = this.clock();
      this.lease = await this.opts.client.renewLease(this.lease);
      this.leaseGrantedAt = grantedAt;
      this.log.info({ expiresAt: new Date(Number(this.lease.expiresAt)).toISOString() }, "lease-renewed");
    }
    if (this.clock() >= this.certificateDueAt()) {
      const { privateKeyPem, csrPem } = await generateKeyAndCsr({ commonName: this.creds.cellId });
      const cert = await this.opts.client.renewCellCertificate(csrPem);
      this.replace(
        { ...this.creds, certificatePem: cert.certificatePem, keyPem: privateKeyPem, caBundlePem: cert.caBundlePem || this.creds.caBundlePem },
        "cell-certificate-renewed",
        { notAfter: new Date(Number(cert.notAfter)).toISOString() },
      );
    }
  }

  private replace(next: CellCredentials, event: string, extra: Record<string, unknown> = {}): void {
    saveCellCredentials(this.opts.credentialsDir, next);
    this.creds = next;
    this.opts.client.useCredentials(next);
    this.log.info({ cell: next.cellId, ...extra }, event);
  }
}
