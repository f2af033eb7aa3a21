// GET /networking/:version/external/policies[?id=|source_id=|dest_id=]. Values are
// comma-separated GUIDs. A non-admin sees only policies whose source and destination apps are both
// in their spaces. A GUID that could never be stored (NUL, control characters, too long) is a 400:
// PostgreSQL would reject the parameter itself. The store renders the policies' JSON (the same
// bytes renderPolicies would make), so a full list does not build one object per policy.
import type { Handler } from "hono";
import type { PolicyFilter } from "../domain/types.js";
import { WRITE_SCOPES, requireScopes } from "./auth.js";
import type { ApiDeps, Env } from "./deps.js";
import { HttpError } from "./http-error.js";
import { ID_RULE, isStorableId } from "./policy-payload.js";

function guidList(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const guids = value.split(",").map((s) => s.trim()).filter(Boolean);
  if (!guids.every(isStorableId)) throw new HttpError(400, `invalid ${name}, ${ID_RULE}`);
  return guids;
}

export function listPoliciesHandler(deps: ApiDeps): Handler<Env> {
  return async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const ids = guidList("id", c.req.query("id"));
    const sourceIds = guidList("source_id", c.req.query("source_id"));
    const destIds = guidList("dest_id", c.req.query("dest_id"));
    const filter: PolicyFilter = {
      ...(ids ? { ids } : {}),
      ...(sourceIds ? { sourceIds } : {}),
      ...(destIds ? { destIds } : {}),
      ...(principal.isAdmin ? {} : { spaces: principal.spaces }),
    };
    const { count, json } = await deps.store.listPoliciesJson(filter, c.get("version"));
    c.header("Content-Type", "application/json");
    return c.body(`{"total_policies":${count},"policies":[${json}]}`);
  };
}
