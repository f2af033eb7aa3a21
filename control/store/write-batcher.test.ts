// Unit test of the write batcher's grouping, on a fake Db that answers each batch on the next turn
// of the event loop and records its size (the SQL side is covered by write-batches.test.ts on real
// stores). Writers that write again as soon as they are answered must share batches instead of
// alternating in two halves; a writer that stops must not hold the others back for good; each
// committed set-based batch is reported as one delta with its revisions, policies and tags.
import { describe, expect, it } from "vitest";
import type { Db, QueryResult } from "./db.js";
import { WriteBatcher, type CreatedDelta } from "./write-batcher.js";

function fakeDb(): { db: Db; sizes: number[] } {
  const sizes: number[] = [];
  let revision = 0;
  const query = async <R>(_sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const writes = JSON.parse(params![0] as string) as { p: { s: string }[] }[];
    sizes.push(writes.length);
    await new Promise((r) => setImmediate(r));
    const results = writes.map((w) => ({ rev: ++revision, t: [[`${w.p[0]!.s}-tagged`, revision]] }));
    return { rows: [{ results } as R], rowCount: 1 };
  };
  const db: Db = {
    kind: "postgres",
    query,
    exec: () => Promise.resolve(),
    session: (fn) => fn({ query, exec: () => Promise.resolve() }),
    transaction: (fn) => fn({ query, exec: () => Promise.resolve() }),
    listen: () => Promise.resolve(() => Promise.resolve()),
    close: () => Promise.resolve(),
  };
  return { db, sizes };
}

const write = (s: string) => ({ k: "policies" as const, p: [{ s, d: "dst", p: "tcp", a: 1, b: 1 }], q: null });

describe("write batcher", () => {
  it("lets writers that write again at once share batches, and lets a writer that stops go", async () => {
    const { db, sizes } = fakeDb();
    const batcher = new WriteBatcher(db, 32, 2000, 200);
    const deltas: CreatedDelta[] = [];
    batcher.onCreated((d) => deltas.push(d));
    // Eight writers, each writing its next write as soon as its previous one is answered; the
    // eighth stops after its first write.
    const rounds = 6;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let r = 0; r < (w === 7 ? 1 : rounds); r++) await batcher.submit(write(`w${w}-r${r}`));
      }),
    );
    // The first batch holds the first writer alone (nothing was in flight); the seven that queued
    // behind it wait for that writer's next write and all eight go together. From then on every
    // writer still writing goes in one batch: after one wait (bounded by gatherMs) for the eighth,
    // which stopped, seven, and six at the end, when the first writer (a round ahead) is done.
    expect(sizes).toEqual([1, 8, 7, 7, 7, 7, 6]);
    // One delta per batch, revisions unbroken, every policy and reported tag in it.
    expect(deltas.map((d) => d.last - d.first + 1)).toEqual(sizes);
    expect(deltas.every((d, i) => i === 0 || d.first === deltas[i - 1]!.last + 1)).toBe(true);
    expect(deltas.flatMap((d) => d.policies).length).toBe(7 * rounds + 1);
    expect(deltas.flatMap((d) => d.tags).map(([g]) => g)).toContain("w3-r2-tagged");
    expect(deltas[1]!.apps).toEqual(expect.arrayContaining(["dst", "w0-r1", "w1-r0", "w7-r0"]));
  });

  it("sends a lone write at once, and a lone writer's next write as soon as it arrives", async () => {
    const { db, sizes } = fakeDb();
    // A gather wait this long would fail the test's timeout if a lone write waited it out.
    const batcher = new WriteBatcher(db, 32, 2000, 60_000);
    for (let r = 0; r < 5; r++) expect(await batcher.submit(write(`solo-${r}`))).toBe(r + 1);
    expect(sizes).toEqual([1, 1, 1, 1, 1]);
    await expect(batcher.settled()).resolves.toBeUndefined();
  }, 10_000);
});
