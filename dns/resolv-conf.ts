// Reads the nameservers of a resolv.conf, the default upstreams of `weft dns`. A nameserver equal
// to our own listen address is left out: forwarding to ourselves would loop until timeout.
import { isIP } from "node:net";
import type { Upstream } from "./forwarder.js";

export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    const host = m?.[1]?.replace(/%.*$/, "");
    if (host !== undefined && isIP(host)) out.push({ host, port: 53 });
  }
  return out;
}

export function withoutSelf(upstreams: readonly Upstream[], listen: { host: string; port: number }): Upstream[] {
  return upstreams.filter((u) => !(u.host === listen.host && u.port === listen.port));
}
