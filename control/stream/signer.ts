// What the gRPC services need from the platform CA (control/ca): the trust bundle and signing.
export interface SignedCertificate {
  /** The leaf followed by its chain. */
  readonly certificatePem: string;
  /** Unix milliseconds. */
  readonly notAfter: number;
}

export interface InstanceCertificateRequest {
  /** A CSR from the cell, or (re-issue) the public key a previous certificate was issued for. */
  readonly csrPem?: string;
  readonly publicKeyPem?: string;
  readonly instanceGuid: string;
  readonly appGuid: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
  /** Internal routes of the app (extra DNS SANs). */
  readonly routes: readonly string[];
}

export interface Signer {
  trustBundlePem(): string;
  signCell(csrPem: string, cellId: string): Promise<SignedCertificate>;
  signInstance(req: InstanceCertificateRequest): Promise<SignedCertificate & { publicKeyPem: string }>;
}

export interface ServerCertificate extends SignedCertificate {
  readonly keyPem: string;
}

/** Issues control's own gRPC server certificate (key generated here, in control). */
export type ServerCertificateIssuer = (dnsNames: readonly string[], ips: readonly string[]) => Promise<ServerCertificate>;
