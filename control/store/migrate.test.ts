// Migrations: applied once even when several replicas start at once, and the embedded store keeps
// its data in its directory across restarts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase } from "../../test/support/db.js";
import { loadMigrations, migrate } from "./migrate.js";
import { createPgDb } from "./pg-db.js";
import { createPgliteDb } from "./pglite-db.js";
import { Store } from "./store.js";

describe("migrations", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it("are numbered and ordered", () => {
    const versions = loadMigrations().map((m) => m.version);
    expect(versions.length).toBeGreaterThan(0);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
  });

  it("apply exactly once when four replicas migrate concurrently", async () => {
    const created = await createTestDatabase();
    cleanups.push(created.drop);
    const dbs = Array.from({ length: 4 }, () => createPgDb({ connectionString: created.url }));
    cleanups.push(async () => {
      for (const d of dbs) await d.close();
    });
    const results = await Promise.all(dbs.map((d) => migrate(d)));
    const applied = results.flat();
    expect(applied.sort()).toEqual(loadMigrations().map((m) => m.version));
    const rows = await dbs[0]!.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
    expect(rows.rows[0]!.n).toBe(loadMigrations().length);
    const tags = await dbs[0]!.query<{ n: number }>("SELECT count(*)::int AS n FROM tags");
    expect(tags.rows[0]!.n).toBe(65535);
  });

  it("the embedded store keeps its data across restarts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-embedded-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    const first = await createPgliteDb({ dataDir: dir });
    await migrate(first);
    const rev = await new Store(first).createPolicies([
      { source: "a", destination: "b", protocol: "tcp", startPort: 80, endPort: 90 },
    ]);
    await first.close();

    const second = await createPgliteDb({ dataDir: dir });
    try {
      expect(await migrate(second)).toEqual([]);
      const store = new Store(second);
      expect(await store.revision()).toBe(rev);
      expect(await store.listPolicies()).toEqual([{ source: "a", destination: "b", protocol: "tcp", startPort: 80, endPort: 90 }]);
    } finally {
      await second.close();
    }
  }, 180_000);
});
