// The user-facing REST API (CF policy server compatible, plus /weft/v1). Order of checks on the
// CF routes is CF's: version (406), token (401), scope (403), body (400), validation (400), access
// (403), then the store. One error handler renders every failure as {"error": "..."}.
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono, type Context } from "hono";
import type { Registry } from "prom-client";
import { errorMessage } from "../../common/errors.js";
import { authenticate } from "./auth.js";
import { registerAppRoutes } from "./apps.js";
import { registerCellRoutes, registerJoinRoute } from "./cells.js";
import { registerRouteRoutes } from "./routes.js";
import { registerSecurityGroupRoutes } from "./security-groups.js";
import type { ApiDeps, Env } from "./deps.js";
import { fastCreatePolicies } from "./fast-create.js";
import { HttpError, toHttpError } from "./http-error.js";
import { createApiMetrics, type ApiMetrics } from "./metrics.js";
import { cleanupPoliciesHandler } from "./policies-cleanup.js";
import { createPoliciesHandler } from "./policies-create.js";
import { deletePoliciesHandler } from "./policies-delete.js";
import { listPoliciesHandler } from "./policies-list.js";
import { listTagsHandler } from "./tags.js";
import { whoamiHandler } from "./whoami.js";

const CORS_ALLOW_HEADERS = "Authorization, Content-Type";
const CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS";

function formatUptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}

/** The API as a Hono app (every route, including the fast path's, which it serves the same). */
export function buildApi(deps: ApiDeps, registry?: Registry): Hono<Env> {
  return buildApp(deps, createApiMetrics(registry));
}

/**
 * The API as a node:http(s) request listener: policy creates through the plain node:http fast
 * path (fast-create.ts), every other request through Hono.
 */
export function buildApiListener(deps: ApiDeps, registry?: Registry, hostname?: string): (req: IncomingMessage, res: ServerResponse) => void {
  const metrics = createApiMetrics(registry);
  const viaHono = getRequestListener(buildApp(deps, metrics).fetch, hostname === undefined ? {} : { hostname });
  const fast = fastCreatePolicies(deps, metrics);
  return (req, res) => {
    if (!fast(req, res)) void viaHono(req, res);
  };
}

function buildApp(deps: ApiDeps, metrics: ApiMetrics): Hono<Env> {
  const app = new Hono<Env>();
  const log = deps.logger;
  const { requests, latency } = metrics;

  app.onError((err, c) => {
    const http = toHttpError(err);
    if (http.status >= 500) log.error({ err: errorMessage(err), cause: errorMessage(http.cause), path: c.req.path }, "request-failed");
    for (const [k, v] of Object.entries(http.headers)) c.header(k, v);
    return c.json({ error: http.message }, http.status as 400);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));

  // Security headers and CORS on every response; OPTIONS is a preflight on any route.
  app.use("*", async (c, next) => {
    const started = performance.now();
    const origin = c.req.header("origin");
    const allowed = origin !== undefined && (deps.config.allowedCorsOrigins.includes("*") || deps.config.allowedCorsOrigins.includes(origin));
    if (c.req.method === "OPTIONS") {
      c.res = new Response(null, { status: 200 });
    } else {
      await next();
    }
    c.header("X-XSS-Protection", "1; mode=block");
    c.header("X-Content-Type-Options", "nosniff");
    if (deps.config.tls) c.header("Strict-Transport-Security", "max-age=31536000");
    if (allowed) {
      c.header("Access-Control-Allow-Origin", origin);
      c.header("Access-Control-Allow-Credentials", "true");
      c.header("Vary", "Origin");
      if (c.req.method === "OPTIONS") {
        c.header("Access-Control-Allow-Methods", CORS_ALLOW_METHODS);
        c.header("Access-Control-Allow-Headers", c.req.header("access-control-request-headers") ?? CORS_ALLOW_HEADERS);
        c.header("Access-Control-Max-Age", "600");
      }
    }
    const route = c.req.routePath;
    requests?.inc({ method: c.req.method, route, status: String(c.res.status) });
    latency?.observe({ method: c.req.method, route }, (performance.now() - started) / 1000);
  });

  // A URL whose percent-escapes do not decode (%zz, invalid UTF-8) is a 400. Otherwise Hono keeps
  // such a segment or query value verbatim, so "%zz" and "%25zz" would name the same app.
  app.use("*", async (c, next) => {
    const url = c.req.url;
    if (url.includes("%")) {
      try {
        decodeURIComponent(url.slice(url.indexOf("/", url.indexOf("//") + 2)));
      } catch {
        throw new HttpError(400, "invalid percent-encoding in request URL");
      }
    }
    await next();
  });

  const uptime = (c: Context<Env>) => c.text(`Network policy server, up for ${formatUptime(Date.now() - deps.startedAt)}`);
  app.get("/", uptime);
  app.get("/networking", uptime);
  app.get("/health", async (c) => {
    try {
      await deps.store.ping();
      return c.json({ healthy: true, store: deps.store.db.kind });
    } catch (err) {
      return c.json({ healthy: false, store: deps.store.db.kind, error: errorMessage(err) }, 503);
    }
  });

  // CF routes: the version wrapper runs before authentication.
  app.use("/networking/:version/external/*", async (c, next) => {
    const version = c.req.param("version");
    if (version !== "v0" && version !== "v1") throw new HttpError(406, `api version '${version}' not supported`);
    c.set("version", version);
    await next();
  });
  app.use("/networking/:version/external/*", authenticate(deps.verifier));
  app.post("/networking/:version/external/policies", createPoliciesHandler(deps));
  app.get("/networking/:version/external/policies", listPoliciesHandler(deps));
  app.post("/networking/:version/external/policies/delete", deletePoliciesHandler(deps));
  app.post("/networking/:version/external/policies/cleanup", cleanupPoliciesHandler(deps));
  app.get("/networking/:version/external/tags", listTagsHandler(deps));
  app.get("/networking/:version/external/whoami", whoamiHandler());

  // The join is authenticated by the one-time token in its body, so it comes before bearer auth.
  if (deps.plane) registerJoinRoute(app, deps, deps.plane);
  app.use("/weft/v1/*", authenticate(deps.verifier));
  registerAppRoutes(app, deps);
  registerSecurityGroupRoutes(app, deps);
  if (deps.plane) {
    registerCellRoutes(app, deps, deps.plane);
    registerRouteRoutes(app, deps, deps.plane);
  }
  return app;
}
