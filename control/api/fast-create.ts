// POST /networking/{v0,v1}/external/policies served straight on node:http(s), without Hono: the
// policy-create route is the API's hot path, and adapting each request to a fetch Request (URL,
// Headers, AbortSignal, a ReadableStream body) and back from a Response cost more CPU than the
// create itself. The steps, checks, errors, statuses, headers and bodies are exactly the Hono
// route's (server.ts with auth.ts, body.ts, policies-create.ts, respond.ts); the shared parts are
// the same functions.
//
// Only plainly shaped requests come here: the exact path (no query, no escapes), a Content-Length
// of at most FAST_BODY_LIMIT and no Transfer-Encoding, and no Origin header (CORS). Everything
// else, including every oversized or streamed body, goes through Hono as before.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../../common/errors.js";
import { authorizePolicyApps } from "../domain/policy-access.js";
import { WRITE_SCOPES, authenticateHeader, checkScopes } from "./auth.js";
import { READ_FAILED, parseJsonBytes } from "./body.js";
import type { ApiDeps } from "./deps.js";
import { HttpError, toHttpError } from "./http-error.js";
import type { ApiMetrics } from "./metrics.js";
import { UNMARSHAL_PREFIX, parsePolicies, type ApiVersion } from "./policy-payload.js";
import { REVISION_HEADER } from "./respond.js";

const PATHS = new Map<string, ApiVersion>([
  ["/networking/v1/external/policies", "v1"],
  ["/networking/v0/external/policies", "v0"],
]);
export const FAST_BODY_LIMIT = 64 * 1024;
// The Hono routes' labels: errors from the version and token checks come from the middleware.
const ROUTE = "/networking/:version/external/policies";
const MIDDLEWARE_ROUTE = "/networking/:version/external/*";

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once("error", (err) => reject(new HttpError(400, READ_FAILED, {}, { cause: err })));
    req.once("close", () => {
      if (!req.complete) reject(new HttpError(400, READ_FAILED));
    });
  });
}

/** Returns a handler that serves the request and says true, or says false and leaves it alone. */
export function fastCreatePolicies(deps: ApiDeps, metrics: ApiMetrics): (req: IncomingMessage, res: ServerResponse) => boolean {
  const log = deps.logger;

  function send(res: ServerResponse, started: number, route: string, status: number, extra: Record<string, string>, body: string): void {
    // The same names, values and order as the Hono route's response (its Headers are sorted).
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "x-xss-protection": "1; mode=block",
      "x-content-type-options": "nosniff",
    };
    if (deps.config.tls) headers["strict-transport-security"] = "max-age=31536000";
    for (const [k, v] of Object.entries(extra)) headers[k.toLowerCase()] = v;
    const flat: string[] = [];
    for (const k of Object.keys(headers).sort()) flat.push(k, headers[k]!);
    flat.push("content-length", String(Buffer.byteLength(body)));
    res.writeHead(status, flat);
    res.end(body);
    metrics.requests?.inc({ method: "POST", route, status: String(status) });
    metrics.latency?.observe({ method: "POST", route }, (performance.now() - started) / 1000);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, version: ApiVersion): Promise<void> {
    const started = performance.now();
    // Reading starts at once; a failure matters only if the checks before it pass.
    const body = readAll(req);
    body.catch(() => undefined);
    let route = MIDDLEWARE_ROUTE;
    try {
      const principal = await authenticateHeader(deps.verifier, req.headers.authorization);
      route = ROUTE;
      checkScopes(principal, WRITE_SCOPES);
      const policies = parsePolicies(parseJsonBytes(await body, UNMARSHAL_PREFIX), version);
      await authorizePolicyApps(deps.store, principal, policies);
      const revision = await deps.store.createPolicies(policies, principal.isAdmin ? null : deps.config.maxPoliciesPerSource);
      const extra: Record<string, string> = {};
      if (revision !== null) {
        extra[REVISION_HEADER] = String(revision);
        deps.onCommitted?.(revision);
      }
      send(res, started, route, 200, extra, "{}");
    } catch (err) {
      const http = toHttpError(err);
      if (http.status >= 500) log.error({ err: errorMessage(err), cause: errorMessage(http.cause), path: req.url }, "request-failed");
      send(res, started, route, http.status, http.headers, JSON.stringify({ error: http.message }));
    }
  }

  return (req, res) => {
    if (req.method !== "POST") return false;
    const version = PATHS.get(req.url ?? "");
    if (version === undefined) return false;
    const h = req.headers;
    if (h.origin !== undefined || h["transfer-encoding"] !== undefined) return false;
    const length = h["content-length"];
    if (length === undefined || !/^\d{1,9}$/.test(length) || Number(length) > FAST_BODY_LIMIT) return false;
    serve(req, res, version).catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, "request-failed");
      res.destroy();
    });
    return true;
  };
}
