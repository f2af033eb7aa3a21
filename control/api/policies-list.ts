// GET /networking/:version/external/policies[?id=|source_id=|dest_id=]. Values are
// comma-separated GUIDs. A non-admin sees only policies whose source and destination apps are both
// in their spaces.
import type { Handler } from "hono";
import type { PolicyFilter } from "../domain/types.js";
import { WRITE_SCOPES, requireScopes } from "./auth.js";
import type { ApiDeps, Env } from "./deps.js";
import { renderPolicies } from "./policy-payload.js";

function guidList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value.split(",").map((s) => s.trim()).filter(Boolean);
}

export function listPoliciesHandler(deps: ApiDeps): Handler<Env> {
  return async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const ids = guidList(c.req.query("id"));
    const sourceIds = guidList(c.req.query("source_id"));
    const destIds = guidList(c.req.query("dest_id"));
    const filter: PolicyFilter = {
      ...(ids ? { ids } : {}),
      ...(sourceIds ? { sourceIds } : {}),
      ...(destIds ? { destIds } : {}),
      ...(principal.isAdmin ? {} : { spaces: principal.spaces }),
    };
    const policies = await deps.store.listPolicies(filter);
    return c.json(renderPolicies(policies, c.get("version")));
  };
}
