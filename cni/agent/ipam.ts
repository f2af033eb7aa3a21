// Address allocation inside the cell's lease, with host-local's guarantee and mechanism: one file
// per allocated address in a state directory, created with O_EXCL, so no address is ever handed out
// twice, even across agent crashes (the file survives them). The file holds its owner (container id
// and interface), which makes release idempotent and lets GC find leftovers. The lease's .0 is the
// VTEP and .255 the broadcast address, so a /24 holds 254 containers (.1-.254).
import { mkdirSync, readFileSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "../../common/errors.js";

export interface Allocation {
  readonly ip: string;
  readonly containerId: string;
  readonly ifname: string;
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export class Ipam {
  private readonly dir: string;
  private readonly first: number;
  private readonly last: number;
  private next: number;

  constructor(stateDir: string, readonly subnet: string) {
    const [base, prefix] = subnet.split("/");
    const size = 2 ** (32 - Number(prefix));
    const start = ipToInt(base!);
    this.first = start + 1;
    this.last = start + size - 2;
    this.next = this.first;
    this.dir = join(stateDir, "ipam", subnet.replace("/", "_"));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The address already held by this container+interface, if any (ADD is then idempotent). */
  find(containerId: string, ifname: string): string | undefined {
    return this.list().find((a) => a.containerId === containerId && a.ifname === ifname)?.ip;
  }

  allocate(containerId: string, ifname: string): string {
    const existing = this.find(containerId, ifname);
    if (existing) return existing;
    const count = this.last - this.first + 1;
    for (let i = 0; i < count; i++) {
      const n = this.first + ((this.next - this.first + i) % count);
      const ip = intToIp(n);
      try {
        writeFileSync(join(this.dir, ip), `${containerId}\n${ifname}\n`, { flag: "wx", mode: 0o600 });
        this.next = n + 1 > this.last ? this.first : n + 1;
        return ip;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new WeftError("INTERNAL", `cannot record address ${ip}: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new WeftError("CONFLICT", `no free address in ${this.subnet}: all ${count} are allocated`);
  }

  /** Releases whatever this container+interface holds; releasing nothing is fine. */
  release(containerId: string, ifname: string): string | undefined {
    for (const a of this.list()) {
      if (a.containerId === containerId && a.ifname === ifname) {
        try {
          unlinkSync(join(this.dir, a.ip));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        }
        return a.ip;
      }
    }
    return undefined;
  }

  list(): Allocation[] {
    const out: Allocation[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue;
      try {
        const [containerId = "", ifname = ""] = readFileSync(join(this.dir, f), "utf8").split("\n");
        out.push({ ip: f, containerId, ifname });
      } catch {
        // Released meanwhile.
      }
    }
    return out;
  }
}
