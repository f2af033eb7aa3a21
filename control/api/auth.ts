// Authentication and scope checks with CF's exact errors: 401 "missing authorization header"
// (with WWW-Authenticate: Bearer), 401 "failed to verify token with uaa", and 403 naming the
// provided and the allowed scopes.
import type { Context, MiddlewareHandler } from "hono";
import type { Principal, TokenVerifier } from "../auth/tokens.js";
import type { Env } from "./deps.js";
import { HttpError } from "./http-error.js";

export const WRITE_SCOPES = ["network.admin", "network.write"] as const;
export const ADMIN_SCOPES = ["network.admin"] as const;

export function authenticate(verifier: TokenVerifier): MiddlewareHandler<Env> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (header === undefined || header.trim() === "") {
      throw new HttpError(401, "missing authorization header", { "WWW-Authenticate": "Bearer" });
    }
    const token = header.replace(/^bearer\s+/i, "").trim();
    let principal: Principal;
    try {
      principal = await verifier.verify(token);
    } catch (err) {
      throw new HttpError(401, "failed to verify token with uaa", { "WWW-Authenticate": "Bearer" }, { cause: err });
    }
    c.set("principal", principal);
    await next();
  };
}

export function requireScopes(c: Context<Env>, allowed: readonly string[]): Principal {
  const principal = c.get("principal");
  if (!principal.scopes.some((s) => allowed.includes(s))) {
    throw new HttpError(
      403,
      `provided scopes [${principal.scopes.join(" ")}] do not include allowed scopes [${allowed.join(" ")}]`,
    );
  }
  return principal;
}
