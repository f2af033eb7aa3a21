// GET /networking/:version/external/whoami (admin): {"subject": user_name or sub}.
import type { Handler } from "hono";
import { ADMIN_SCOPES, requireScopes } from "./auth.js";
import type { Env } from "./deps.js";

export function whoamiHandler(): Handler<Env> {
  return (c) => c.json({ subject: requireScopes(c, ADMIN_SCOPES).subject });
}
