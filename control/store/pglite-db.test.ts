// The embedded store reports rowCount as pg does: rows returned by a SELECT, rows touched by a write.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "./db.js";
import { createPgliteDb } from "./pglite-db.js";

describe("embedded store rowCount", () => {
  let db: Db;
  beforeAll(async () => {
    db = await createPgliteDb();
    await db.query("CREATE TABLE t (id int)");
    await db.query("INSERT INTO t VALUES (1), (2), (3)");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("counts the rows of a SELECT", async () => {
    expect((await db.query("SELECT 1 FROM t WHERE id = $1", [2])).rowCount).toBe(1);
    expect((await db.query("SELECT 1 FROM t WHERE id = $1", [9])).rowCount).toBe(0);
    expect((await db.query("SELECT id FROM t")).rowCount).toBe(3);
  });

  it("counts the rows a write touched", async () => {
    expect((await db.query("UPDATE t SET id = id + 10 WHERE id > 1")).rowCount).toBe(2);
    expect((await db.query("DELETE FROM t WHERE id = 99")).rowCount).toBe(0);
    expect((await db.query("DELETE FROM t WHERE id = 1 RETURNING id")).rowCount).toBe(1);
  });
});
