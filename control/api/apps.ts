// Weft's app registry: PUT/GET/DELETE /weft/v1/apps/{guid}, GET /weft/v1/apps[?name=].
// Policies, tags and routes hang off the app GUID. Deleting an app removes its policies and routes
// and frees its tag. A non-admin may only see and change apps in their token's spaces.
import type { Hono } from "hono";
import type { App } from "../domain/types.js";
import { canAccessSpace } from "../domain/policy-access.js";
import { WRITE_SCOPES, requireScopes } from "./auth.js";
import { readJson } from "./body.js";
import type { ApiDeps, Env } from "./deps.js";
import { HttpError } from "./http-error.js";
import { ID_RULE, isStorableId } from "./policy-payload.js";
import { committed } from "./respond.js";

function renderApp(a: App) {
  return { guid: a.guid, name: a.name, space_guid: a.spaceGuid, org_guid: a.orgGuid };
}

function field(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (v === undefined || v === null || v === "") throw new HttpError(400, `missing ${name}`);
  if (typeof v !== "string") throw new HttpError(400, `invalid ${name}, must be a string`);
  if (!isStorableId(v)) throw new HttpError(400, `invalid ${name}, ${ID_RULE}`);
  return v;
}

function guidParam(guid: string): string {
  if (!isStorableId(guid)) throw new HttpError(400, `invalid app guid, ${ID_RULE}`);
  return guid;
}

export function registerAppRoutes(app: Hono<Env>, deps: ApiDeps): void {
  app.put("/weft/v1/apps/:guid", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const guid = guidParam(c.req.param("guid"));
    const body = await readJson(c, "invalid JSON body: ");
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(400, "invalid JSON body: expected an object with name, space_guid and org_guid");
    }
    const record = body as Record<string, unknown>;
    const desired: App = {
      guid,
      name: field(record, "name"),
      spaceGuid: field(record, "space_guid"),
      orgGuid: field(record, "org_guid"),
    };
    if (!canAccessSpace(principal, desired.spaceGuid)) throw new HttpError(403, "space cannot be accessed");
    const existing = await deps.store.getApp(guid);
    if (existing && !canAccessSpace(principal, existing.spaceGuid)) {
      throw new HttpError(403, "one or more applications cannot be found or accessed");
    }
    const { revision } = await deps.store.upsertApp(desired);
    c.status(existing ? 200 : 201);
    return committed(c, deps, revision, renderApp(desired));
  });

  app.get("/weft/v1/apps", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const name = c.req.query("name");
    if (name !== undefined && name !== "" && !isStorableId(name)) throw new HttpError(400, `invalid name, ${ID_RULE}`);
    const apps = await deps.store.listApps({
      ...(name !== undefined ? { name } : {}),
      ...(principal.isAdmin ? {} : { spaces: principal.spaces }),
    });
    return c.json({ apps: apps.map(renderApp) });
  });

  app.get("/weft/v1/apps/:guid", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const found = await deps.store.getApp(guidParam(c.req.param("guid")));
    if (!found || !canAccessSpace(principal, found.spaceGuid)) throw new HttpError(404, "app not found");
    return c.json(renderApp(found));
  });

  app.delete("/weft/v1/apps/:guid", async (c) => {
    const principal = requireScopes(c, WRITE_SCOPES);
    const guid = guidParam(c.req.param("guid"));
    const found = await deps.store.getApp(guid);
    if (!found || !canAccessSpace(principal, found.spaceGuid)) throw new HttpError(404, "app not found");
    const { revision } = await deps.store.deleteApp(guid);
    return committed(c, deps, revision, {});
  });
}
