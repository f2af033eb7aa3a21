// Lease semantics (CF silk-controller), against both stores: idempotent acquire per underlay IP,
// random free blocks, exhaustion as a clear error, reclaim of the oldest expired lease, renew
// (mismatch is a conflict, an absent lease is re-inserted), and explicit release.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORE_KINDS, openTestDb, type TestDb } from "../../test/support/db.js";
import { createLeasePool, vtepOf } from "../leases/lease-pool.js";
import { LeaseStore } from "./lease-store.js";
import { Store } from "./store.js";

describe("lease pool", () => {
  it("cuts the overlay into blocks, keeping the first out", () => {
    const pool = createLeasePool({ network: "10.255.0.0/16", subnetPrefix: 24 });
    const blocks = pool.blocks();
    expect(blocks).toHaveLength(255);
    expect(blocks[0]).toBe("10.255.1.0/24");
    expect(blocks.at(-1)).toBe("10.255.255.0/24");
    expect(pool.contains("10.255.0.0/24")).toBe(false);
    expect(pool.contains("10.254.3.0/24")).toBe(false);
    expect(pool.contains("10.255.3.0/25")).toBe(false);
    expect(vtepOf("10.255.34.0/24")).toEqual({ ip: "10.255.34.0", mac: "ee:ee:0a:ff:22:00" });
    expect(() => createLeasePool({ network: "10.0.0.0/24", subnetPrefix: 16 })).toThrow(/longer/);
    expect(() => createLeasePool({ network: "nope", subnetPrefix: 24 })).toThrow(/invalid overlay network/);
  });
});

describe.each(STORE_KINDS)("leases (%s)", (kind) => {
  let t: TestDb;
  let store: Store;
  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new Store(t.db);
  });
  afterAll(async () => t?.drop());

  it("acquires idempotently per underlay IP, distinct blocks, until exhaustion", async () => {
    const pool = createLeasePool({ network: "10.9.0.0/22", subnetPrefix: 24 }); // 3 usable blocks
    const leases = new LeaseStore(store, pool, 3_600_000);
    const a = await leases.acquire("cell-a", "192.0.2.1");
    expect(await leases.acquire("cell-a", "192.0.2.1")).toMatchObject({ overlaySubnet: a.overlaySubnet });
    const b = await leases.acquire("cell-b", "192.0.2.2");
    const c = await leases.acquire("cell-c", "192.0.2.3");
    expect(new Set([a.overlaySubnet, b.overlaySubnet, c.overlaySubnet]).size).toBe(3);
    await expect(leases.acquire("cell-d", "192.0.2.4")).rejects.toThrow(/no free overlay subnet: all 3 \/24 blocks of 10\.9\.0\.0\/22 are leased/);
    await leases.release("cell-b", "192.0.2.2");
    await leases.release("cell-b", "192.0.2.2"); // a missing lease is fine
    expect((await leases.acquire("cell-d", "192.0.2.4")).overlaySubnet).toBe(b.overlaySubnet);
    expect((await leases.list()).map((l) => l.underlayIp).sort()).toEqual(["192.0.2.1", "192.0.2.3", "192.0.2.4"]);
  });

  it("reclaims the oldest expired lease when the pool is full, and renews", async () => {
    const pool = createLeasePool({ network: "10.8.0.0/23", subnetPrefix: 24 }); // 1 usable block
    const expired = new LeaseStore(store, pool, -1000);
    const old = await expired.acquire("cell-old", "198.51.100.1");
    const leases = new LeaseStore(store, pool, 3_600_000);
    const fresh = await leases.acquire("cell-new", "198.51.100.2");
    expect(fresh.overlaySubnet).toBe(old.overlaySubnet);
    await expect(leases.renew("cell-old", { underlayIp: "198.51.100.1", overlaySubnet: old.overlaySubnet })).rejects.toThrow(/lease mismatch/);
    const renewed = await leases.renew("cell-new", { underlayIp: "198.51.100.2", overlaySubnet: fresh.overlaySubnet });
    expect(renewed.expiresAt).toBeGreaterThanOrEqual(fresh.expiresAt);
    await leases.release("cell-new", "198.51.100.2");
    // Renewing a lease the store lost re-inserts it.
    expect(await leases.renew("cell-new", { underlayIp: "198.51.100.2", overlaySubnet: fresh.overlaySubnet })).toMatchObject({ cellId: "cell-new" });
    await expect(leases.renew("cell-new", { underlayIp: "198.51.100.2", overlaySubnet: "10.99.0.0/24" })).rejects.toThrow(/lease mismatch/);
  });
});
