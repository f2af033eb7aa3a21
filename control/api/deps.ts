// What the REST handlers get from the composition root.
import type { Logger } from "../../common/logger.js";
import type { TokenVerifier, Principal } from "../auth/tokens.js";
import type { Store } from "../store/store.js";
import type { ApiVersion } from "./policy-payload.js";

export interface ApiConfig {
  /** Non-admin cap on policies per source app (CF max_policies_per_app_source). */
  readonly maxPoliciesPerSource: number;
  readonly allowedCorsOrigins: readonly string[];
  readonly tls: boolean;
}

export interface ApiDeps {
  readonly store: Store;
  readonly verifier: TokenVerifier;
  readonly config: ApiConfig;
  readonly logger: Logger;
  readonly startedAt: number;
  /** Called after a committed change, with its revision (metrics, waiters). */
  readonly onCommitted?: (revision: number) => void;
}

export type Env = { Variables: { principal: Principal; version: ApiVersion } };
