// Parses the JSON of one `ip -j -d -batch -` run (link, addr, route and neigh, one array per line)
// and of `bridge -j fdb show` into the link-level part of ObservedCell: the VTEP and its routes,
// neighbours and FDB entries, the container veths' host ends, and the loopback addresses.
import { WeftError } from "../../common/errors.js";
import type { ObservedHostVeth, ObservedVtep } from "./kernel-types.js";
import { GATEWAY_IP, VTEP_NAME, ipFromHostVethName } from "./names.js";

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const arr = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObj) : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export const IP_OBSERVE_BATCH = "link show\naddr show\nroute show table main\nneigh show\n";

export interface LinkObservation {
  readonly vtep: ObservedVtep | undefined;
  readonly underlayMtu: number | undefined;
  readonly vtepRoutes: Map<string, string | undefined>;
  readonly vtepNeighbours: Map<string, string>;
  readonly hostVeths: Map<string, ObservedHostVeth>;
  readonly loopbackAddresses: string[];
}

function parseLines(text: string, count: number): unknown[][] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length !== count) throw new WeftError("INTERNAL", `ip -batch printed ${lines.length} JSON lines, expected ${count}`);
  try {
    return lines.map((l) => JSON.parse(l) as unknown[]);
  } catch (cause) {
    throw new WeftError("INTERNAL", "ip printed invalid JSON", { cause });
  }
}

function inetAddrs(link: Json | undefined): Json[] {
  return arr(link?.addr_info).filter((a) => a.family === "inet");
}

export function parseIpObservation(text: string, underlayDev: string | undefined): LinkObservation {
  const [linksRaw, addrsRaw, routesRaw, neighRaw] = parseLines(text, 4);
  const links = arr(linksRaw);
  const addrs = new Map(arr(addrsRaw).map((a) => [str(a.ifname) ?? "", a]));
  const linkByIndex = new Map(links.map((l) => [l.ifindex, str(l.ifname)]));

  const underlay = underlayDev === undefined ? undefined : links.find((l) => l.ifname === underlayDev);
  const v = links.find((l) => l.ifname === VTEP_NAME);
  let vtep: ObservedVtep | undefined;
  if (v) {
    const info = isObj(v.linkinfo) && isObj(v.linkinfo.info_data) ? v.linkinfo.info_data : {};
    const linkRef = info.link;
    vtep = {
      vni: typeof info.id === "number" ? info.id : undefined,
      port: typeof info.port === "number" ? info.port : undefined,
      gbp: info.gbp === true,
      learning: info.learning === true,
      local: str(info.local),
      underlayDev: typeof linkRef === "number" ? linkByIndex.get(linkRef) : str(linkRef),
      mtu: typeof v.mtu === "number" ? v.mtu : 0,
      mac: str(v.address) ?? "",
      up: Array.isArray(v.flags) && v.flags.includes("UP"),
      addresses: inetAddrs(addrs.get(VTEP_NAME)).map((a) => `${String(a.local)}/${String(a.prefixlen)}`),
    };
  }

  const vtepRoutes = new Map<string, string | undefined>();
  for (const r of arr(routesRaw)) {
    if (r.dev === VTEP_NAME && typeof r.dst === "string") vtepRoutes.set(r.dst.includes("/") ? r.dst : `${r.dst}/32`, str(r.gateway));
  }

  const neighbours = arr(neighRaw);
  const vtepNeighbours = new Map<string, string>();
  const permanent = (n: Json): boolean => Array.isArray(n.state) && n.state.includes("PERMANENT");
  for (const n of neighbours) {
    if (n.dev === VTEP_NAME && permanent(n) && typeof n.dst === "string" && typeof n.lladdr === "string") {
      vtepNeighbours.set(n.dst, n.lladdr);
    }
  }

  const hostVeths = new Map<string, ObservedHostVeth>();
  for (const l of links) {
    const name = str(l.ifname);
    const ip = name === undefined ? undefined : ipFromHostVethName(name);
    if (name === undefined || ip === undefined) continue;
    const peer = inetAddrs(addrs.get(name)).some((a) => a.local === GATEWAY_IP && a.address === ip);
    const neigh = neighbours.find((n) => n.dev === name && n.dst === ip && permanent(n));
    hostVeths.set(name, {
      hostIf: name,
      ip,
      mac: str(l.address) ?? "",
      up: Array.isArray(l.flags) && l.flags.includes("UP"),
      peerAddress: peer,
      neighbourMac: str(neigh?.lladdr),
    });
  }

  return {
    vtep,
    underlayMtu: typeof underlay?.mtu === "number" ? underlay.mtu : undefined,
    vtepRoutes,
    vtepNeighbours,
    hostVeths,
    loopbackAddresses: inetAddrs(addrs.get("lo")).map((a) => String(a.local)),
  };
}

/** `bridge -j fdb show` -> MAC -> underlay destination, for the VTEP's entries with a `dst`. */
export function parseFdb(text: string): Map<string, string> {
  let rows: unknown;
  try {
    rows = JSON.parse(text.trim() === "" ? "[]" : text);
  } catch (cause) {
    throw new WeftError("INTERNAL", "bridge printed invalid JSON", { cause });
  }
  const out = new Map<string, string>();
  for (const r of arr(rows)) {
    if (r.ifname === VTEP_NAME && typeof r.mac === "string" && typeof r.dst === "string") out.set(r.mac, r.dst);
  }
  return out;
}
