// Control's side of the gRPC mTLS, kept current while control runs: the roots that client
// certificates must chain to (the platform CA's trust bundle, two roots during a rotation) and
// control's own server certificate. grpc-js takes both from a certificate provider and swaps the
// listener's secure context on each update; handshakes after an update use it, connections
// already open keep theirs. plane.ts updates it when the CA changes (re-issuing the server
// certificate from the new active root) and before the server certificate expires.
import { experimental, type ServerCredentials } from "@grpc/grpc-js";

export interface ControlTlsMaterial {
  readonly caBundlePem: string;
  readonly certificatePem: string;
  readonly keyPem: string;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export class ControlTls implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();

  constructor(private material: ControlTlsMaterial) {}

  get current(): ControlTlsMaterial {
    return this.material;
  }

  /** Server credentials that require a client certificate from the current roots. */
  serverCredentials(): ServerCredentials {
    // The same object provides both the roots and the identity (so argument order cannot matter).
    return experimental.createCertificateProviderServerCredentials(this, this, true);
  }

  update(next: ControlTlsMaterial): void {
    const caChanged = next.caBundlePem !== this.material.caBundlePem;
    const idChanged = next.certificatePem !== this.material.certificatePem || next.keyPem !== this.material.keyPem;
    this.material = next;
    if (caChanged) for (const l of this.caListeners) l(this.caUpdate());
    if (idChanged) for (const l of this.identityListeners) l(this.identityUpdate());
  }

  private caUpdate() {
    return { caCertificate: Buffer.from(this.material.caBundlePem) };
  }

  private identityUpdate() {
    return { certificate: Buffer.from(this.material.certificatePem), privateKey: Buffer.from(this.material.keyPem) };
  }

  // grpc-js subscribes while it builds the listener and reads the result only after subscribing,
  // so the current material is delivered on the next tick, not inside the subscription call.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }
}
