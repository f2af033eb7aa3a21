// The control plane's configuration: read and validated once (by the CLI) into a frozen object.
export interface ControlConfig {
  readonly listen: { host: string; port: number };
  readonly opsListen: { host: string; port: number };
  readonly dataDir: string;
  /** PostgreSQL; when absent the embedded store in dataDir is used. */
  readonly databaseUrl?: string;
  readonly tlsCertFile?: string;
  readonly tlsKeyFile?: string;
  readonly allowedCorsOrigins: readonly string[];
  readonly trustedIssuers: readonly string[];
  readonly maxPoliciesPerSource: number;
  readonly cleanupIntervalMs: number;
  /** The mTLS gRPC listener for cells and DNS servers. */
  readonly grpcListen: { host: string; port: number };
  /** Where cells reach grpcListen (told to joining agents); default: the listen address. */
  readonly grpcAdvertise?: string;
  /** Extra names and IPs for control's gRPC server certificate. */
  readonly grpcNames?: readonly string[];
  readonly overlayNetwork: string;
  readonly subnetPrefix: number;
  readonly leaseTtlMs: number;
  /** How long a silent cell's instances stay in DNS. */
  readonly cellGraceMs: number;
  /** An operator-given CA root (PEM files); default: created on first start and kept in the store. */
  readonly caCertFile?: string;
  readonly caKeyFile?: string;
  /** Validity of the certificates cells get at join and renewal; default 7 days. */
  readonly cellCertValidityMs?: number;
  /** How often control checks whether its own gRPC certificate is due for renewal; default 1 h. */
  readonly controlCertCheckMs?: number;
}

export const CONTROL_DEFAULTS = {
  listen: "0.0.0.0:4002",
  opsListen: "127.0.0.1:4004",
  dataDir: ".weft/control",
  maxPoliciesPerSource: 150,
  cleanupIntervalMinutes: 60,
  grpcListen: "0.0.0.0:4003",
  overlayNetwork: "10.255.0.0/16",
  subnetPrefix: 24,
  leaseTtlHours: 168,
  cellGraceSeconds: 180,
} as const;
