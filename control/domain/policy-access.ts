// Who may touch which policies. Admins may name any app GUID, registered or not (CF parity; the
// cleanup removes stale ones later). A non-admin may name only registered apps in the spaces of
// their token; anything else is one 403, so an unknown GUID and a foreign one look the same
// (this closes CF's silent skip of GUIDs the cloud controller does not return).
import { WeftError } from "../../common/errors.js";
import type { Principal } from "../auth/tokens.js";
import type { Store } from "../store/store.js";
import type { Policy } from "./types.js";

export const CANNOT_ACCESS = "one or more applications cannot be found or accessed";

export async function authorizePolicyApps(store: Store, principal: Principal, policies: readonly Policy[]): Promise<void> {
  if (principal.isAdmin) return;
  const guids = [...new Set(policies.flatMap((p) => [p.source, p.destination]))];
  const apps = await store.getApps(guids);
  const spaces = new Set(principal.spaces);
  for (const guid of guids) {
    const app = apps.get(guid);
    if (!app || !spaces.has(app.spaceGuid)) throw new WeftError("FORBIDDEN", CANNOT_ACCESS);
  }
}

/** Whether a non-admin may see or change an app. */
export function canAccessSpace(principal: Principal, spaceGuid: string): boolean {
  return principal.isAdmin || principal.spaces.includes(spaceGuid);
}
