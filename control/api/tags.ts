// GET /networking/:version/external/tags (admin): every tag in use, as CF renders it ("%04X").
import type { Handler } from "hono";
import { ADMIN_SCOPES, requireScopes } from "./auth.js";
import type { ApiDeps, Env } from "./deps.js";

export function formatTag(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(4, "0");
}

export function listTagsHandler(deps: ApiDeps): Handler<Env> {
  return async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const tags = await deps.store.listTags();
    return c.json({ tags: tags.map((t) => ({ id: t.id, tag: formatTag(t.tag), type: t.type })) });
  };
}
