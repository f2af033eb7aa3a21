// Internal routes: PUT /weft/v1/routes/{host} {"app_guid"}, DELETE, GET /weft/v1/routes[?app_guid=].
// A host is a DNS name (NAME.apps.internal), stored lower-case. A non-admin may only map routes
// to apps in their spaces.
import type { Hono } from "hono";
import { canAccessSpace } from "../domain/policy-access.js";
import { WRITE_SCOPES, requireScopes } from "./auth.js";
import { readJson } from "./body.js";
import type { ApiDeps, Env, PlaneDeps } from "./deps.js";
import { HttpError } from "./http-error.js";
import { committed } from "./respond.js";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkHost(raw: string): string {
  const host = raw.toLowerCase().replace(/\.$/, "");
  const labels = host.split(".");
  if (host.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw new HttpError(400, `invalid route host ${JSON.stringify(raw.slice(0, 300))}: must be a DNS name like backend.apps.internal`);
  }
  if (/^\d+$/.test(labels[0]!)) throw new HttpError(400, "invalid route host: the first label may not be a number (it would shadow instance index names)");
  return host;
}

export function registerRouteRoutes(app: Hono<Env>, deps: ApiDeps, plane: PlaneDeps): void {
  app.put("/weft/v1/routes/:host", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const host = checkHost(c.req.param("host"));
    const body = await readJson(c, "invalid JSON body: ");
    const appGuid = (body as { app_guid?: unknown } | null)?.app_guid;
    if (typeof appGuid !== "string" || appGuid === "") throw new HttpError(400, "missing app_guid");
    const target = await deps.store.getApp(appGuid);
    if (!target || !canAccessSpace(principal, target.spaceGuid)) throw new HttpError(403, "one or more applications cannot be found or accessed");
    const revision = await plane.routes.map(host, appGuid);
    return committed(c, deps, revision, { host, app_guid: appGuid });
  });

  app.delete("/weft/v1/routes/:host", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const host = checkHost(c.req.param("host"));
    const current = (await plane.routes.list()).find((r) => r.host === host);
    if (!current) return c.json({});
    const owner = await deps.store.getApp(current.appGuid);
    if (owner && !canAccessSpace(principal, owner.spaceGuid)) throw new HttpError(403, "one or more applications cannot be found or accessed");
    return committed(c, deps, await plane.routes.unmap(host), {});
  });

  app.get("/weft/v1/routes", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const routes = await plane.routes.list(c.req.query("app_guid"));
    const visible = principal.isAdmin ? routes : await filterVisible(deps, principal.spaces, routes);
    return c.json({ routes: visible.map((r) => ({ host: r.host, app_guid: r.appGuid })) });
  });
}

async function filterVisible(deps: ApiDeps, spaces: readonly string[], routes: { host: string; appGuid: string }[]) {
  const apps = await deps.store.getApps([...new Set(routes.map((r) => r.appGuid))]);
  return routes.filter((r) => {
    const a = apps.get(r.appGuid);
    return a !== undefined && spaces.includes(a.spaceGuid);
  });
}
