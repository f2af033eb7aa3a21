// Policies by (source tag, destination app, protocol), and the groups of each destination app,
// kept up to date change by change, so a fast path finds what one policy or one container
// touches without reading every policy of the cell.
import type { Protocol } from "../kernel/kernel-types.js";
import type { PortRange } from "../kernel/port-ranges.js";
import type { DesiredPolicy } from "./desired-state.js";

export interface PolicyChange {
  readonly added: readonly DesiredPolicy[];
  readonly removed: readonly DesiredPolicy[];
}

export interface PolicyGroup {
  readonly tag: number;
  readonly app: string;
  readonly protocol: Protocol;
  readonly ranges: readonly PortRange[];
}

export const groupKey = (tag: number, app: string, protocol: string): string => `${tag}|${app}|${protocol}`;

export class PolicyIndex {
  private readonly groups = new Map<string, { tag: number; app: string; protocol: Protocol; ranges: PortRange[] }>();
  private readonly byApp = new Map<string, Set<string>>();

  static from(policies: readonly DesiredPolicy[]): PolicyIndex {
    const index = new PolicyIndex();
    index.apply({ added: policies, removed: [] });
    return index;
  }

  apply(change: PolicyChange): void {
    for (const p of change.removed) {
      const key = groupKey(p.sourceTag, p.destAppGuid, p.protocol);
      const g = this.groups.get(key);
      if (!g) continue;
      const at = g.ranges.findIndex((r) => r.start === p.ports.start && r.end === p.ports.end);
      if (at >= 0) g.ranges.splice(at, 1);
      if (g.ranges.length === 0) {
        this.groups.delete(key);
        this.byApp.get(p.destAppGuid)?.delete(key);
      }
    }
    for (const p of change.added) {
      const key = groupKey(p.sourceTag, p.destAppGuid, p.protocol);
      const g = this.groups.get(key) ?? { tag: p.sourceTag, app: p.destAppGuid, protocol: p.protocol, ranges: [] };
      g.ranges.push(p.ports);
      this.groups.set(key, g);
      const keys = this.byApp.get(p.destAppGuid) ?? new Set<string>();
      keys.add(key);
      this.byApp.set(p.destAppGuid, keys);
    }
  }

  ranges(tag: number, app: string, protocol: string): readonly PortRange[] {
    return this.groups.get(groupKey(tag, app, protocol))?.ranges ?? [];
  }

  /** Every group whose destination is `app`. */
  groupsOf(app: string): PolicyGroup[] {
    return [...(this.byApp.get(app) ?? [])].flatMap((k) => {
      const g = this.groups.get(k);
      return g ? [g] : [];
    });
  }
}
