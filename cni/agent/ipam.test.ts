// IPAM: unique addresses in the lease (.1-.254 of a /24), idempotent per container, survives a
// restart (a new Ipam over the same directory), exhaustion is a clear error, release is idempotent.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Ipam } from "./ipam.js";

describe("Ipam", () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "weft-ipam-"));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("hands out unique addresses, idempotently, and remembers them across restarts", () => {
    const dir = tmp();
    const ipam = new Ipam(dir, "10.255.7.0/24");
    const a = ipam.allocate("c1", "eth0");
    expect(a).toBe("10.255.7.1");
    expect(ipam.allocate("c1", "eth0")).toBe(a);
    const b = ipam.allocate("c2", "eth0");
    expect(b).not.toBe(a);
    const again = new Ipam(dir, "10.255.7.0/24");
    expect(again.find("c1", "eth0")).toBe(a);
    expect(again.allocate("c3", "eth0")).not.toMatch(new RegExp(`^(${a}|${b})$`));
  });

  it("fills a /24 with exactly 254 containers, then fails clearly; release frees one", () => {
    const ipam = new Ipam(tmp(), "10.255.8.0/24");
    const ips = new Set(Array.from({ length: 254 }, (_, i) => ipam.allocate(`c${i}`, "eth0")));
    expect(ips.size).toBe(254);
    expect(ips.has("10.255.8.0")).toBe(false);
    expect(ips.has("10.255.8.255")).toBe(false);
    expect(() => ipam.allocate("one-more", "eth0")).toThrow(/no free address in 10\.255\.8\.0\/24: all 254 are allocated/);
    expect(ipam.release("c10", "eth0")).toBe("10.255.8.11");
    expect(ipam.release("c10", "eth0")).toBeUndefined();
    expect(ipam.allocate("one-more", "eth0")).toBe("10.255.8.11");
  });
});
