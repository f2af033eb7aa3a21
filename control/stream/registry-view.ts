// The service registry DNS servers answer from: each internal route (host) mapped to the live
// instances of its app. Pure functions over DesiredState, plus the liveness of cells: instances on a
// cell gone longer than the grace period leave DNS (they stay registered; fail static).
import type { RegistryRoute } from "../../proto/types.js";
import type { DesiredState } from "../state/desired-state.js";

export type CellLiveness = (cellId: string) => boolean;

export function routeEntry(state: DesiredState, host: string, live: CellLiveness): RegistryRoute | undefined {
  const app = state.appByRoute.get(host);
  if (app === undefined) return undefined;
  const instances = [];
  for (const guid of state.instancesByApp.get(app) ?? []) {
    const i = state.instances.get(guid);
    if (!i || !live(i.cellId) || i.lifecycle !== "running") continue;
    instances.push({ instanceGuid: i.instanceGuid, index: i.index, ip: i.overlayIp });
  }
  instances.sort((a, b) => a.index - b.index || a.instanceGuid.localeCompare(b.instanceGuid));
  return { host, instances };
}

export function hostsOfApps(state: DesiredState, apps: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const a of apps) for (const h of state.routesByApp.get(a) ?? []) out.add(h);
  return out;
}
