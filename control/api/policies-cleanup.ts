// POST /networking/:version/external/policies/cleanup (admin): removes policies whose source or
// destination app is no longer registered, and returns them. The same runs periodically.
import type { Handler } from "hono";
import { ADMIN_SCOPES, requireScopes } from "./auth.js";
import type { ApiDeps, Env } from "./deps.js";
import { renderPolicies } from "./policy-payload.js";
import { committed } from "./respond.js";

export function cleanupPoliciesHandler(deps: ApiDeps): Handler<Env> {
  return async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const { result, revision } = await deps.store.cleanupPolicies();
    return committed(c, deps, revision, renderPolicies(result, c.get("version")));
  };
}
