// The state feed on both stores: the replica that commits a batch of creates applies it from
// memory (the WriteBatcher's delta), a replica that did not reads it back from the store, and both
// must end in exactly the state a full read describes, having reported the same apps and kinds to
// their listeners. Writes that give no delta (deletes, quota creates) are read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { openTestDb, STORE_KINDS, type TestDb } from "../../test/support/db.js";
import type { Policy } from "../domain/types.js";
import { StateReader } from "../store/state-reader.js";
import { Store } from "../store/store.js";
import { DesiredState } from "./desired-state.js";
import { StateFeed } from "./state-feed.js";

const pol = (source: string, destination: string, startPort: number, endPort = startPort): Policy => ({ source, destination, protocol: "tcp", startPort, endPort });

function snapshot(s: DesiredState) {
  const sorted = <T>(xs: Iterable<T>) => [...xs].sort();
  return {
    revision: s.revision,
    apps: sorted([...s.apps.values()].map((a) => JSON.stringify(a))),
    tags: sorted([...s.tags].map(([g, t]) => `${g}=${t}`)),
    policies: sorted(s.policies.keys()),
    bySource: sorted([...s.bySource].map(([a, ks]) => `${a}:${sorted(ks).join(",")}`)),
    byDest: sorted([...s.byDest].map(([a, ks]) => `${a}:${sorted(ks).join(",")}`)),
  };
}

describe.each(STORE_KINDS)("state feed, %s store", (kind) => {
  let t: TestDb;
  let store: Store;
  let local: StateFeed;
  let remote: StateFeed;
  const seen = { local: { apps: new Set<string>(), kinds: new Set<string>() }, remote: { apps: new Set<string>(), kinds: new Set<string>() } };

  beforeAll(async () => {
    t = await openTestDb(kind);
    store = new Store(t.db);
    // Something to load at start, so the first deltas follow a full read.
    await store.createPolicies([pol("pre-a", "pre-b", 80)]);
    local = new StateFeed(t.db, undefined, 2, store.localCreates);
    remote = new StateFeed(t.db, undefined, 2);
    await local.start();
    await remote.start();
    // The catch-up read each feed makes after subscribing.
    await eventually(() => expect(local.counts.reads + remote.counts.reads).toBe(2), { timeoutMs: 10_000, intervalMs: 10 });
    for (const [feed, into] of [[local, seen.local], [remote, seen.remote]] as const) {
      feed.onChange((affected) => {
        if (affected.apps !== "all") for (const a of affected.apps) into.apps.add(a);
        for (const k of affected.kinds) into.kinds.add(k);
      });
    }
  });
  /** Waits, without asking for a read as waitFor does, until both feeds are at the revision. */
  async function reach(revision: number): Promise<void> {
    await eventually(() => expect([local.state.revision, remote.state.revision]).toEqual([revision, revision]), { timeoutMs: 10_000, intervalMs: 5 });
  }

  afterAll(async () => {
    await local?.stop();
    await remote?.stop();
    await t?.drop();
  });

  it("applies this replica's creates from memory and ends in the state a full read gives, as a replica that reads does", async () => {
    const deltasBefore = local.counts.deltas;
    const readsBefore = local.counts.reads;
    // Concurrent single-policy creates (batched), with new apps, repeats and duplicates within a batch.
    await Promise.all(Array.from({ length: 80 }, (_, i) => store.createPolicies([pol(`app-${i % 23}`, `app-${(i * 7) % 31}`, 1000 + (i % 17))])));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.createPolicies([pol(`app-${i}`, `new-${i}`, 2000, 2010), pol(`new-${i}`, `app-${i}`, 3000)])));
    await reach(await store.revision());

    const full = new DesiredState();
    full.apply(await new StateReader(t.db).full());
    expect(snapshot(local.state)).toEqual(snapshot(full));
    expect(snapshot(remote.state)).toEqual(snapshot(full));
    expect(seen.local).toEqual(seen.remote);
    expect(local.counts.deltas - deltasBefore).toBeGreaterThan(0);
    // Every NOTIFY of these batches waited for the batch's delta instead of reading.
    expect(local.counts.reads - readsBefore).toBe(0);
    expect(remote.counts.reads).toBeGreaterThan(2);
  });

  it("applies this replica's app upserts from memory too", async () => {
    const readsBefore = local.counts.reads;
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.upsertApp({ guid: `app-${i}`, name: `name-${i}`, spaceGuid: `space-${i % 3}`, orgGuid: "org" })));
    // Changed, unchanged (no revision) and new apps in one go.
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.upsertApp({ guid: `app-${i * 3}`, name: `name-${i * 3}`, spaceGuid: i % 2 ? "moved" : `space-${(i * 3) % 3}`, orgGuid: "org" })));
    await reach(await store.revision());

    const full = new DesiredState();
    full.apply(await new StateReader(t.db).full());
    expect(snapshot(local.state)).toEqual(snapshot(full));
    expect(snapshot(remote.state)).toEqual(snapshot(full));
    expect(local.state.apps.get("app-3")?.spaceGuid).toBe("moved");
    expect(seen.local).toEqual(seen.remote);
    expect(local.counts.reads - readsBefore).toBe(0);
  });

  it("reads what gives no delta (deletes, quota creates) and still applies later deltas", async () => {
    await store.deletePolicies([pol("app-1", "new-1", 2000, 2010)]);
    await store.upsertApp({ guid: "app-2", name: "two", spaceGuid: "s", orgGuid: "o" });
    await store.createPolicies([pol("quota-src", "app-2", 9)], 10);
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.createPolicies([pol(`late-${i}`, "app-2", 4000 + i)])));
    await reach(await store.revision());

    const full = new DesiredState();
    full.apply(await new StateReader(t.db).full());
    expect(snapshot(local.state)).toEqual(snapshot(full));
    expect(snapshot(remote.state)).toEqual(snapshot(full));
    expect(local.state.policies.size).toBe(full.policies.size);
    expect(seen.local).toEqual(seen.remote);
  });
});
