// Deterministic names, addresses and constants of the objects Weft programs into a cell's kernel.
// Every name is derived from an IP or a fixed prefix, so garbage collection can tell Weft's objects
// from anyone else's by name alone and rebuild the name of what it should find.
import { WeftError } from "../../common/errors.js";

export const VTEP_NAME = "weft-vtep";
export const VTEP_VNI = 1;
export const VTEP_PORT = 4789;
/** VXLAN adds 50 bytes (outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8). */
export const VXLAN_OVERHEAD = 50;
/** The host side of every container veth; containers route everything via it. */
export const GATEWAY_IP = "169.254.0.1";
/** The cell's DNS server address, held on the cell's loopback. */
export const DNS_IP = "169.254.0.2";
/** nftables table that holds all of Weft's filtering; Weft owns everything in it. */
export const NFT_TABLE = "weft";
/** Mark given to router traffic that arrived through a port mapping (bits 16-31: never a tag). */
export const ROUTER_MARK = 0xffff0000;
/** Only the low 16 bits of a mark travel in the VXLAN GBP header. */
export const TAG_MAX = 0xffff;
export const HOST_VETH_PREFIX = "w-";
/** Linux interface names are at most 15 bytes. */
export const IFNAME_MAX = 15;

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4) throw new WeftError("INVALID_ARGUMENT", `not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    const v = Number(p);
    if (!/^\d{1,3}$/.test(p) || v > 255) throw new WeftError("INVALID_ARGUMENT", `not an IPv4 address: ${ip}`);
    n = n * 256 + v;
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export interface Cidr {
  readonly network: string;
  readonly prefix: number;
}

export function parseCidr(cidr: string): Cidr {
  const [addr, len] = cidr.split("/");
  const prefix = Number(len);
  if (addr === undefined || len === undefined || !/^\d{1,2}$/.test(len) || prefix > 32) {
    throw new WeftError("INVALID_ARGUMENT", `not an IPv4 CIDR: ${cidr}`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: intToIp((ipToInt(addr) & mask) >>> 0), prefix };
}

export function formatCidr(c: Cidr): string {
  return `${c.network}/${c.prefix}`;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const c = parseCidr(cidr);
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return ((ipToInt(ip) & mask) >>> 0) === ipToInt(c.network);
}

/** A lease's VTEP address is its network address (`.0` of a /24). */
export function leaseVtepIp(subnet: string): string {
  return parseCidr(subnet).network;
}

function macFromIp(prefix: string, ip: string): string {
  const n = ipToInt(ip);
  const bytes = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return `${prefix}:${bytes.map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** ee:ee + the 4 bytes of the VTEP address, as Silk does, so every cell can compute every MAC. */
export function vtepMac(vtepIp: string): string {
  return macFromIp("ee:ee", vtepIp);
}

export function containerMac(ip: string): string {
  return macFromIp("ee:ee", ip);
}

export function hostVethMac(ip: string): string {
  return macFromIp("aa:aa", ip);
}

/** `w-` + the IP as 12 zero-padded digits: `w-010255001005` (14 bytes). */
export function hostVethName(ip: string): string {
  ipToInt(ip);
  return HOST_VETH_PREFIX + ip.split(".").map((p) => p.padStart(3, "0")).join("");
}

export function ipFromHostVethName(name: string): string | undefined {
  const m = /^w-(\d{3})(\d{3})(\d{3})(\d{3})$/.exec(name);
  if (!m) return undefined;
  const ip = m.slice(1, 5).map((p) => String(Number(p))).join(".");
  try {
    ipToInt(ip);
    return ip;
  } catch {
    return undefined;
  }
}
