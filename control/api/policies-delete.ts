// POST /networking/:version/external/policies/delete: exact-match delete; a missing policy is a
// no-op and still 200 {}.
import type { Handler } from "hono";
import { authorizePolicyApps } from "../domain/policy-access.js";
import { WRITE_SCOPES, requireScopes } from "./auth.js";
import { readJson } from "./body.js";
import type { ApiDeps, Env } from "./deps.js";
import { UNMARSHAL_PREFIX, parsePolicies } from "./policy-payload.js";
import { committed } from "./respond.js";

export function deletePoliciesHandler(deps: ApiDeps): Handler<Env> {
  return async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const policies = parsePolicies(await readJson(c, UNMARSHAL_PREFIX), c.get("version"));
    await authorizePolicyApps(deps.store, principal, policies);
    const revision = await deps.store.deletePolicies(policies);
    return committed(c, deps, revision, {});
  };
}
