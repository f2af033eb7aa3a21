// The overlay's block pool (CF silk-controller semantics): the overlay network (default
// 10.255.0.0/16) cut into blocks of a fixed prefix (default /24), one per cell. The first block is
// kept out of the pool, as Silk keeps it for single-IP members. Pure functions, no I/O.
import ipaddr from "ipaddr.js";
import { WeftError } from "../../common/errors.js";

export interface LeasePoolConfig {
  /** The overlay network, e.g. 10.255.0.0/16. */
  readonly network: string;
  /** Prefix length of one cell's block, e.g. 24. */
  readonly subnetPrefix: number;
}

export interface LeasePool {
  readonly network: string;
  readonly subnetPrefix: number;
  readonly networkPrefix: number;
  /** Every block of the pool, in order (CIDR strings). */
  blocks(): string[];
  contains(subnet: string): boolean;
}

function toInt(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0);
}

function fromInt(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function createLeasePool(cfg: LeasePoolConfig): LeasePool {
  let base: number;
  let networkPrefix: number;
  try {
    const [addr, prefix] = ipaddr.IPv4.parseCIDR(cfg.network);
    networkPrefix = prefix;
    base = toInt(addr.toString());
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `invalid overlay network ${JSON.stringify(cfg.network)}`, { cause: err });
  }
  if (!Number.isInteger(cfg.subnetPrefix) || cfg.subnetPrefix <= networkPrefix || cfg.subnetPrefix > 30) {
    throw new WeftError("INVALID_ARGUMENT", `subnet prefix /${cfg.subnetPrefix} must be longer than the network's /${networkPrefix} and at most /30`);
  }
  const mask = networkPrefix === 0 ? 0 : (0xffffffff << (32 - networkPrefix)) >>> 0;
  base = (base & mask) >>> 0;
  const blockSize = 2 ** (32 - cfg.subnetPrefix);
  const count = 2 ** (cfg.subnetPrefix - networkPrefix);
  const network = `${fromInt(base)}/${networkPrefix}`;
  return {
    network,
    subnetPrefix: cfg.subnetPrefix,
    networkPrefix,
    blocks() {
      const out: string[] = [];
      for (let i = 1; i < count; i++) out.push(`${fromInt(base + i * blockSize)}/${cfg.subnetPrefix}`);
      return out;
    },
    contains(subnet: string) {
      try {
        const [addr, prefix] = ipaddr.IPv4.parseCIDR(subnet);
        if (prefix !== cfg.subnetPrefix) return false;
        const n = toInt(addr.toString());
        return n >= base + blockSize && n < base + count * blockSize && (n - base) % blockSize === 0;
      } catch {
        return false;
      }
    },
  };
}

/** The VTEP address of a block (its .0) and the MAC derived from it: ee:ee: + the 4 bytes. */
export function vtepOf(subnet: string): { ip: string; mac: string } {
  const ip = subnet.split("/")[0]!;
  const mac = ["ee", "ee", ...ipaddr.IPv4.parse(ip).toByteArray().map((b) => b.toString(16).padStart(2, "0"))].join(":");
  return { ip, mac };
}

export function isIPv4(value: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(value);
}

/** Picks a random element (the allocator's "random free block"). */
export function pickRandom<T>(items: readonly T[], random: () => number = Math.random): T | undefined {
  return items.length ? items[Math.floor(random() * items.length)] : undefined;
}
