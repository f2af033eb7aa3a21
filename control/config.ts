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
}

export const CONTROL_DEFAULTS = {
  listen: "0.0.0.0:4002",
  opsListen: "127.0.0.1:4004",
  dataDir: ".weft/control",
  maxPoliciesPerSource: 150,
  cleanupIntervalMinutes: 60,
} as const;
