// App security groups (ASGs), in the shape of CF's v3 security groups:
//   POST   /weft/v1/security-groups                 {"name", "rules": [...], "globally_enabled": {"running", "staging"}}
//   GET    /weft/v1/security-groups[?name=]         {"security_groups": [...]}
//   GET    /weft/v1/security-groups/{guid}
//   PATCH  /weft/v1/security-groups/{guid}          any of name, rules, globally_enabled (PUT is the same)
//   DELETE /weft/v1/security-groups/{guid}
//   POST   /weft/v1/security-groups/{guid}/relationships/{running|staging}_spaces  {"data": [{"guid": SPACE}]}
//   DELETE /weft/v1/security-groups/{guid}/relationships/{running|staging}_spaces/{space}
// Rules are CF's ASG JSON (common/asg-rules.ts). Every bad input is a 400 naming the field, checked
// before anything is stored. Changing groups needs network.admin; reading needs network.write.
// A change answers with X-Weft-Revision, so `weft asg ... --wait` can wait until cells enforce it.
import type { Context, Hono } from "hono";
import { AsgRuleError, parseAsgRules, renderAsgRule, type AsgRule } from "../../common/asg-rules.js";
import { SecurityGroupStore, type AsgLifecycle, type SecurityGroupRecord } from "../store/security-group-store.js";
import { ADMIN_SCOPES, WRITE_SCOPES, requireScopes } from "./auth.js";
import { readJson } from "./body.js";
import type { ApiDeps, Env } from "./deps.js";
import { HttpError } from "./http-error.js";
import { ID_RULE, isStorableId } from "./policy-payload.js";
import { committed } from "./respond.js";

const BASE = "/weft/v1/security-groups";
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,249}$/;
const TOP_KEYS = new Set(["name", "rules", "globally_enabled"]);

export function renderGroup(g: SecurityGroupRecord) {
  return {
    guid: g.guid,
    name: g.name,
    rules: g.rules.map(renderAsgRule),
    globally_enabled: { running: g.runningDefault, staging: g.stagingDefault },
    relationships: {
      running_spaces: { data: g.runningSpaces.map((guid) => ({ guid })) },
      staging_spaces: { data: g.stagingSpaces.map((guid) => ({ guid })) },
    },
  };
}

interface GroupBody {
  name?: string;
  rules?: AsgRule[];
  running?: boolean;
  staging?: boolean;
}

function parseBody(body: unknown, create: boolean): GroupBody {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "invalid JSON body: expected an object with name, rules and globally_enabled");
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!TOP_KEYS.has(k)) throw new HttpError(400, `invalid ${k}: unknown field (expected name, rules, globally_enabled)`);
  const out: GroupBody = {};
  if (b.name !== undefined || create) {
    if (b.name === undefined || b.name === null || b.name === "") throw new HttpError(400, "missing name");
    if (typeof b.name !== "string" || !NAME.test(b.name)) throw new HttpError(400, "invalid name: 1-250 characters of letters, digits, space and . _ : @ -, starting with a letter or digit");
    out.name = b.name;
  }
  if (b.rules !== undefined || create) {
    try {
      // Omitted on create: no rules. Given, it must be a list (null is not one).
      out.rules = parseAsgRules(b.rules === undefined ? [] : b.rules);
    } catch (err) {
      if (err instanceof AsgRuleError) throw new HttpError(400, err.message);
      throw err;
    }
  }
  if (b.globally_enabled !== undefined) {
    const g = b.globally_enabled;
    if (g === null || typeof g !== "object" || Array.isArray(g)) throw new HttpError(400, "invalid globally_enabled: expected {\"running\": bool, \"staging\": bool}");
    for (const [k, v] of Object.entries(g as Record<string, unknown>)) {
      if (k !== "running" && k !== "staging") throw new HttpError(400, `invalid globally_enabled.${k}: unknown field (expected running, staging)`);
      if (typeof v !== "boolean") throw new HttpError(400, `invalid globally_enabled.${k}: must be true or false`);
      out[k] = v;
    }
  }
  return out;
}

function guidParam(c: Context<Env>): string {
  const guid = c.req.param("guid") ?? "";
  if (!isStorableId(guid)) throw new HttpError(400, `invalid security group guid, ${ID_RULE}`);
  return guid;
}

function lifecycleParam(c: Context<Env>): AsgLifecycle {
  const rel = c.req.param("relationship");
  if (rel === "running_spaces") return "running";
  if (rel === "staging_spaces") return "staging";
  throw new HttpError(404, "not found");
}

function parseSpaces(body: unknown): string[] {
  const data = (body as { data?: unknown } | null)?.data;
  if (body === null || typeof body !== "object" || Array.isArray(body) || !Array.isArray(data)) {
    throw new HttpError(400, 'invalid data: expected {"data": [{"guid": SPACE_GUID}, ...]}');
  }
  if (data.length === 0) throw new HttpError(400, "invalid data: at least one space");
  if (data.length > 1000) throw new HttpError(400, "invalid data: at most 1000 spaces per request");
  return data.map((d: unknown, i) => {
    const guid = (d as { guid?: unknown } | null)?.guid;
    if (typeof guid !== "string" || guid === "") throw new HttpError(400, `missing data[${i}].guid`);
    if (!isStorableId(guid)) throw new HttpError(400, `invalid data[${i}].guid, ${ID_RULE}`);
    return guid;
  });
}

export function registerSecurityGroupRoutes(app: Hono<Env>, deps: ApiDeps): void {
  const groups = new SecurityGroupStore(deps.store);

  app.post(BASE, async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const body = parseBody(await readJson(c, "invalid JSON body: "), true);
    const { group, revision } = await groups.create({
      name: body.name!,
      rules: body.rules ?? [],
      runningDefault: body.running ?? false,
      stagingDefault: body.staging ?? false,
    });
    c.status(201);
    return committed(c, deps, revision, renderGroup(group));
  });

  app.get(BASE, async (c) => {
    requireScopes(c, WRITE_SCOPES);
    const name = c.req.query("name");
    if (name !== undefined && name !== "" && !isStorableId(name)) throw new HttpError(400, `invalid name, ${ID_RULE}`);
    const list = await groups.list(name ? { name } : {});
    return c.json({ security_groups: list.map(renderGroup) });
  });

  app.get(`${BASE}/:guid`, async (c) => {
    requireScopes(c, WRITE_SCOPES);
    const found = await groups.get(guidParam(c));
    if (!found) throw new HttpError(404, "security group not found");
    return c.json(renderGroup(found));
  });

  const update = async (c: Context<Env>) => {
    requireScopes(c, ADMIN_SCOPES);
    const guid = guidParam(c);
    const body = parseBody(await readJson(c, "invalid JSON body: "), false);
    const { group, revision } = await groups.update(guid, {
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.rules !== undefined ? { rules: body.rules } : {}),
      ...(body.running !== undefined ? { runningDefault: body.running } : {}),
      ...(body.staging !== undefined ? { stagingDefault: body.staging } : {}),
    });
    return committed(c, deps, revision, renderGroup(group));
  };
  app.patch(`${BASE}/:guid`, update);
  app.put(`${BASE}/:guid`, update);

  app.delete(`${BASE}/:guid`, async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const { found, revision } = await groups.delete(guidParam(c));
    if (!found) throw new HttpError(404, "security group not found");
    return committed(c, deps, revision, {});
  });

  app.post(`${BASE}/:guid/relationships/:relationship`, async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const guid = guidParam(c);
    const lifecycle = lifecycleParam(c);
    const spaces = parseSpaces(await readJson(c, "invalid JSON body: "));
    const { group, revision } = await groups.bind(guid, lifecycle, spaces);
    return committed(c, deps, revision, renderGroup(group));
  });

  app.delete(`${BASE}/:guid/relationships/:relationship/:space`, async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const guid = guidParam(c);
    const lifecycle = lifecycleParam(c);
    const space = c.req.param("space");
    if (!isStorableId(space)) throw new HttpError(400, `invalid space guid, ${ID_RULE}`);
    const { group, revision } = await groups.unbind(guid, lifecycle, space);
    return committed(c, deps, revision, renderGroup(group));
  });
}
