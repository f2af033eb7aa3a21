// The platform CA as control uses it: one active root shared by every replica through ca_roots,
// plus, during a rotation, the previous root, which stays in the trust bundle until it is retired
// so that certificates issued before the rotation keep verifying (the overlap).
//
// Start: with an operator-given root, that root is made active (the stored one, if different,
// becomes previous); otherwise the stored active root is used, and the first replica to find none
// creates one (CaStore serialises this, so concurrent starts end with exactly one). State is only
// ever read from the table: rotate() and retirePrevious() write it and reload, and other replicas
// reload when the caller hands them the change notification (revision change of kind "ca").
import { X509Certificate } from "node:crypto";
import { WeftError, errorMessage } from "../../common/errors.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import type { Store } from "../store/store.js";
import { CaStore, type CaRootRecord } from "./ca-store.js";
import { signCellCsr, type CellCertOptions } from "./cell-certificate.js";
import { CertificateIssuer, type IssuedCertificate } from "./certificate-issuer.js";
import { issueControlServerCert, type ControlCertOptions, type IssuedKeyPair } from "./control-certificate.js";
import { issueInstanceCert, signInstanceCsr, type InstanceCertOptions, type InstanceIdentity } from "./instance-certificate.js";
import { certFingerprint, createRootCa, inspectRoot, type PemPair } from "./root-ca.js";

export interface PlatformCaOptions {
  readonly store: Pick<Store, "db" | "mutate">;
  /** An operator-given root (certificate and key PEM, see readRootFiles) to make active. */
  readonly operatorRoot?: PemPair;
  readonly logger?: Logger;
  readonly clock?: () => number;
  /** SPIFFE trust domain of workload URIs; default "weft". */
  readonly trustDomain?: string;
}

export interface RootInfo {
  readonly id: number;
  readonly subject: string;
  readonly fingerprint256: string;
  readonly notAfter: number;
}

interface Loaded {
  readonly activeId: number;
  readonly previousIds: readonly number[];
  readonly issuer: CertificateIssuer;
  readonly bundle: string;
}

export class PlatformCa {
  private loaded: Loaded | null = null;
  private reloads: Promise<unknown> = Promise.resolve();
  private readonly caStore: CaStore;
  private readonly log: Logger;
  private readonly clock: () => number;

  private constructor(private readonly opts: PlatformCaOptions) {
    this.caStore = new CaStore(opts.store);
    this.log = opts.logger ?? silentLogger;
    this.clock = opts.clock ?? Date.now;
  }

  /** Loads (or creates, or imports) the active root. */
  static async open(opts: PlatformCaOptions): Promise<PlatformCa> {
    const ca = new PlatformCa(opts);
    await ca.ensureRoot();
    await ca.reload();
    return ca;
  }

  private async ensureRoot(): Promise<void> {
    const given = this.opts.operatorRoot;
    if (given !== undefined) {
      const fp = inspectRoot(given, this.clock()).fingerprint256;
      const differs = (a: CaRootRecord): boolean => {
        try {
          return certFingerprint(a.certPem) !== fp;
        } catch {
          return true;
        }
      };
      const r = await this.caStore.ensureActive(given, differs);
      if (r.created) this.log.info({ root: r.root.id, fingerprint: fp }, "ca-root-imported");
      return;
    }
    if ((await this.caStore.trusted()).some((r) => r.state === "active")) return;
    const r = await this.caStore.ensureActive(await createRootCa({ now: this.clock() }));
    if (r.created) this.log.info({ root: r.root.id }, "ca-root-created");
  }

  /** Re-reads ca_roots; returns whether the active or previous root changed. Calls run one at a time. */
  reload(): Promise<boolean> {
    const run = this.reloads.then(() => this.reloadNow());
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(): Promise<boolean> {
    const roots = await this.caStore.trusted();
    const active = roots.find((r) => r.state === "active");
    if (active === undefined) throw new WeftError("INTERNAL", "ca_roots has no active root");
    const previousIds = roots.filter((r) => r.state === "previous").map((r) => r.id);
    const cur = this.loaded;
    if (cur && cur.activeId === active.id && cur.previousIds.join() === previousIds.join()) return false;
    let issuer = cur?.activeId === active.id ? cur.issuer : undefined;
    if (issuer === undefined) {
      try {
        issuer = new CertificateIssuer(active, { clock: this.clock, logger: this.log });
      } catch (err) {
        throw new WeftError("INTERNAL", `stored CA root ${active.id} is unusable: ${errorMessage(err)}`, { cause: err });
      }
    }
    const bundle = roots.map((r) => (r.id === active.id ? issuer.root.certPem : rootPem(r))).join("");
    this.loaded = { activeId: active.id, previousIds, issuer, bundle };
    this.log.info({ active: active.id, previous: previousIds }, "ca-roots-loaded");
    return true;
  }

  private current(): Loaded {
    if (this.loaded === null) throw new WeftError("INTERNAL", "platform CA is not loaded");
    return this.loaded;
  }

  /** PEM: the active root, then the previous one during a rotation. */
  trustBundlePem(): string {
    return this.current().bundle;
  }

  activeRoot(): RootInfo {
    const { activeId, issuer } = this.current();
    const r = issuer.root;
    return { id: activeId, subject: r.cert.subject, fingerprint256: r.fingerprint256, notAfter: r.notAfter };
  }

  /** A new active root; the old one becomes previous (and an older previous is retired). */
  async rotate(): Promise<RootInfo> {
    const next = await this.caStore.rotate(await createRootCa({ now: this.clock() }));
    this.log.info({ active: next.id }, "ca-rotated");
    await this.reload();
    return this.activeRoot();
  }

  /** Ends the overlap. Returns whether a previous root was retired. */
  async retirePrevious(): Promise<boolean> {
    const retired = await this.caStore.retirePrevious();
    if (retired) this.log.info({}, "ca-previous-retired");
    await this.reload();
    return retired;
  }

  signCellCsr(csrPem: string, cellId: string, opts?: CellCertOptions): IssuedCertificate {
    return signCellCsr(this.current().issuer, csrPem, cellId, opts);
  }

  issueControlServerCert(opts: ControlCertOptions): IssuedKeyPair {
    return issueControlServerCert(this.current().issuer, opts);
  }

  signInstanceCsr(csrPem: string, id: InstanceIdentity, opts: InstanceCertOptions = {}): IssuedCertificate {
    return signInstanceCsr(this.current().issuer, csrPem, id, this.withTrustDomain(opts));
  }

  issueInstanceCert(publicKeyPem: string, id: InstanceIdentity, opts: InstanceCertOptions = {}): IssuedCertificate {
    return issueInstanceCert(this.current().issuer, publicKeyPem, id, this.withTrustDomain(opts));
  }

  private withTrustDomain(opts: InstanceCertOptions): InstanceCertOptions {
    return this.opts.trustDomain === undefined || opts.trustDomain !== undefined ? opts : { ...opts, trustDomain: this.opts.trustDomain };
  }
}

/** A stored root's certificate as one normalised PEM block (checked to parse). */
function rootPem(r: CaRootRecord): string {
  try {
    const text = new X509Certificate(r.certPem).toString();
    return text.endsWith("\n") ? text : `${text}\n`;
  } catch (err) {
    throw new WeftError("INTERNAL", `stored CA root ${r.id} does not parse: ${errorMessage(err)}`, { cause: err });
  }
}
