// Cutting the connections a removed policy allowed. The ingress accept stores the source tag in
// the conntrack mark, so the flows of one (tag, destination IP, protocol, port range) can be found
// exactly: list the entries with that mark, keep those whose original destination and port fall
// in the removed ranges, and delete each by its full tuple. Once its entry is gone, the next packet
// of the flow is evaluated as new against the current rules and rejected (TCP gets a reset).
import type { FlowCut, Protocol } from "./kernel-types.js";
import { TAG_MAX } from "./names.js";
import { rangeInList } from "./port-ranges.js";

export interface ConntrackFlow {
  readonly protocol: Protocol;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly mark: number;
}

/** Parses `conntrack -L` text; only the original-direction tuple of TCP and UDP entries. */
export function parseConntrack(text: string): ConntrackFlow[] {
  const flows: ConntrackFlow[] = [];
  for (const line of text.split("\n")) {
    const proto = /^\s*(tcp|udp)\s/.exec(line)?.[1];
    if (proto !== "tcp" && proto !== "udp") continue;
    const field = (k: string): string | undefined => new RegExp(`\\b${k}=(\\S+)`).exec(line)?.[1];
    const src = field("src");
    const dst = field("dst");
    const sport = Number(field("sport"));
    const dport = Number(field("dport"));
    const mark = Number(field("mark") ?? "0");
    if (!src || !dst || !Number.isInteger(sport) || !Number.isInteger(dport)) continue;
    flows.push({ protocol: proto, src, dst, sport, dport, mark });
  }
  return flows;
}

export function flowsToCut(flows: readonly ConntrackFlow[], cuts: readonly FlowCut[]): ConntrackFlow[] {
  return flows.filter((f) =>
    cuts.some(
      (c) =>
        (f.mark & TAG_MAX) === c.tag && f.dst === c.ip && f.protocol === c.protocol && rangeInList(f.dport, c.ranges),
    ),
  );
}

export function deleteArgs(f: ConntrackFlow): string[] {
  return ["conntrack", "-D", "-p", f.protocol, "-s", f.src, "-d", f.dst, "--sport", String(f.sport), "--dport", String(f.dport)];
}
