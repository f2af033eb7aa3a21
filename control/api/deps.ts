// What the REST handlers get from the composition root.
import type { Logger } from "../../common/logger.js";
import type { TokenVerifier, Principal } from "../auth/tokens.js";
import type { Store } from "../store/store.js";
import type { CellStore } from "../store/cell-store.js";
import type { JoinTokenStore } from "../store/join-token-store.js";
import type { RouteStore } from "../store/route-store.js";
import type { CellHub } from "../stream/cell-hub.js";
import type { Signer } from "../stream/signer.js";
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
  /** The cell-facing parts (join, status, routes); absent in API-only setups. */
  readonly plane?: PlaneDeps;
  /** Called after a committed change, with its revision (metrics, waiters). */
  readonly onCommitted?: (revision: number) => void;
}

export type Env = { Variables: { principal: Principal; version: ApiVersion } };

export interface PlaneDeps {
  readonly cells: CellStore;
  readonly joinTokens: JoinTokenStore;
  readonly routes: RouteStore;
  readonly signer: Signer;
  readonly hub: CellHub;
  /** Where cells reach the gRPC listener, told to joining agents. */
  readonly grpcEndpoint: () => string;
}
