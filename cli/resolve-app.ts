// Resolves an app argument to a GUID the way the cf CLI resolves names: by name (optionally in a
// space), then as a GUID. Unknown apps are one clear error.
import { ApiError, type ApiClient } from "./api-client.js";

export interface AppJson {
  guid: string;
  name: string;
  space_guid: string;
  org_guid: string;
}

export async function resolveApp(client: ApiClient, nameOrGuid: string, space?: string): Promise<AppJson> {
  const byName = await client.call<{ apps: AppJson[] }>("GET", `/weft/v1/apps?name=${encodeURIComponent(nameOrGuid)}`);
  const matches = byName.body.apps.filter((a) => space === undefined || a.space_guid === space);
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw new Error(`app '${nameOrGuid}' exists in several spaces (${matches.map((a) => a.space_guid).join(", ")}); pick one with -s SPACE`);
  }
  try {
    const res = await client.call<AppJson>("GET", `/weft/v1/apps/${encodeURIComponent(nameOrGuid)}`);
    return res.body;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400)) throw new Error(`app '${nameOrGuid}' not found`, { cause: err });
    throw err;
  }
}
