// Authentication and scope checks with CF's exact errors: 401 "missing authorization header"
// (with WWW-Authenticate: Bearer), 401 "failed to verify token with uaa", and 403 naming the
// provided and the allowed scopes.
import type { Context, MiddlewareHandler } from "hono";
import type { Principal, TokenVerifier } from "../auth/tokens.js";
import type { Env } from "./deps.js";
import { HttpError } from "./http-error.js";

export const WRITE_SCOPES = ["network.admin", "network.write"] as const;
export const ADMIN_SCOPES = ["network.admin"] as const;

/** The principal for an Authorization header value, or an HttpError 401 with CF's messages. */
export async function authenticateHeader(verifier: TokenVerifier, header: string | undefined): Promise<Principal> {
  if (header === undefined || header.trim() === "") {
    throw new HttpError(401, "missing authorization header", { "WWW-Authenticate": "Bearer" });
  }
  const token = header.replace(/^bearer\s+/i, "").trim();
  try {
    return await verifier.verify(token);
  } catch (err) {
    throw new HttpError(401, "failed to verify token with uaa", { "WWW-Authenticate": "Bearer" }, { cause: err });
  }
}

export function authenticate(verifier: TokenVerifier): MiddlewareHandler<Env> {
  return async (c, next) => {
    c.set("principal", await authenticateHeader(verifier, c.req.header("authorization")));
    await next();
  };
}

/** The principal, or an HttpError 403 naming the provided and the allowed scopes. */
export function checkScopes(principal: Principal, allowed: readonly string[]): Principal {
  if (!principal.scopes.some((s) => allowed.includes(s))) {
    throw new HttpError(
      403,
      `provided scopes [${principal.scopes.join(" ")}] do not include allowed scopes [${allowed.join(" ")}]`,
    );
  }
  return principal;
}

export function requireScopes(c: Context<Env>, allowed: readonly string[]): Principal {
  return checkScopes(c.get("principal"), allowed);
}
