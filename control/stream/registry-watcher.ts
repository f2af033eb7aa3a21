// One DNS server's Watch stream: a snapshot of every route, then, on each change, the routes whose
// instance set changed (each replaces that host's instances) and the removed hosts. What was
// sent is remembered per host, so a change that does not alter a host's answer sends nothing.
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { RegistryRoute, RegistryUpdate, WatchRegistryRequest } from "../../proto/types.js";
import type { DesiredState } from "../state/desired-state.js";
import { hostsOfApps, routeEntry, type CellLiveness } from "./registry-view.js";

export class RegistryWatcher {
  private readonly sent = new Map<string, { app: string; key: string }>();
  private writable = true;
  private pendingAll = false;
  private readonly pendingHosts = new Set<string>();

  constructor(
    private readonly call: ServerWritableStream<WatchRegistryRequest, RegistryUpdate>,
    private readonly state: DesiredState,
    private readonly live: CellLiveness,
  ) {
    call.on("drain", () => {
      this.writable = true;
      this.flush();
    });
  }

  start(): void {
    const routes: RegistryRoute[] = [];
    for (const host of this.state.appByRoute.keys()) {
      const r = routeEntry(this.state, host, this.live);
      if (!r) continue;
      routes.push(r);
      this.sent.set(host, { app: this.state.appByRoute.get(host)!, key: JSON.stringify(r.instances) });
    }
    this.write({ revision: this.state.revision, snapshot: true, routes, removedHosts: [] });
  }

  /** Apps (or everything) changed; recompute their hosts. */
  changed(apps: ReadonlySet<string> | "all"): void {
    if (apps === "all") this.pendingAll = true;
    else {
      for (const h of hostsOfApps(this.state, apps)) this.pendingHosts.add(h);
      for (const [h, s] of this.sent) if (apps.has(s.app)) this.pendingHosts.add(h);
    }
    if (this.writable) this.flush();
  }

  private flush(): void {
    const hosts = this.pendingAll ? new Set([...this.state.appByRoute.keys(), ...this.sent.keys()]) : new Set(this.pendingHosts);
    this.pendingAll = false;
    this.pendingHosts.clear();
    const routes: RegistryRoute[] = [];
    const removedHosts: string[] = [];
    for (const host of hosts) {
      const r = routeEntry(this.state, host, this.live);
      const before = this.sent.get(host);
      if (!r) {
        if (before) {
          this.sent.delete(host);
          removedHosts.push(host);
        }
        continue;
      }
      const key = JSON.stringify(r.instances);
      if (before?.key === key) continue;
      this.sent.set(host, { app: this.state.appByRoute.get(host)!, key });
      routes.push(r);
    }
    if (routes.length || removedHosts.length) this.write({ revision: this.state.revision, snapshot: false, routes, removedHosts });
  }

  private write(update: RegistryUpdate): void {
    if (!this.call.write(update)) this.writable = false;
  }
}
