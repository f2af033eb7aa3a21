// The lookup table behind the registry: lower-case wire names -> pre-encoded A records, found
// straight from the bytes of a query.
//
// What a Map<string, AnswerSet> does, hand-written because on the hot path the string and the
// pointer chasing were the cost: building a key string per query, hashing and comparing it, then
// following Map entry -> object -> Buffer -> backing store, each a likely cache miss with 10,000
// names. Here the parser hashes the name while it validates it (hashWire), and the table is packed:
//   - `slots`: open addressing, linear probing, two int32 per slot (hash, offset into the arena),
//     at most half full;
//   - `arena`: one Buffer holding every entry as [key length][key bytes][count u16][records], so a
//     hit touches one slot and one contiguous run of bytes.
// Updates go to a plain Map (the source of truth) and mark the packed form stale; it is rebuilt on
// the next lookup, so a burst of registry deltas costs one rebuild, and answers still reflect a
// change from the very next query.
import { RECORD_SIZE, type AnswerSet } from "./answer-set.js";
import { hashWire, lowerByte } from "./wire.js";

export interface PackedLookup {
  /** The arena of the current packed form; the records of a hit are at arena[offset + 2, ...). */
  readonly arena: Buffer;
}

export class NameTable implements PackedLookup {
  private readonly entries = new Map<string, { key: Buffer; value: AnswerSet }>();
  private slots = new Int32Array(2 * 16).fill(-1);
  private mask = 15;
  private packed: Buffer = Buffer.alloc(0);
  private stale = false;

  get size(): number {
    return this.entries.size;
  }

  get arena(): Buffer {
    return this.packed;
  }

  /**
   * Finds the name msg[start, end) (wire form, any case) whose hashWire is `hash`. Returns the
   * offset in `arena` of its record count (u16) followed by its records, or -1.
   */
  lookup(msg: Buffer, start: number, end: number, hash: number): number {
    if (this.stale) this.rebuild();
    const slots = this.slots;
    const arena = this.packed;
    const len = end - start;
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const off = slots[2 * i + 1]!;
      if (off < 0) return -1;
      if (slots[2 * i] !== hash || arena[off] !== len) continue;
      let j = 0;
      while (j < len && arena[off + 1 + j] === lowerByte(msg[start + j]!)) j++;
      if (j === len) return off + 1 + len;
    }
  }

  /** The value of `key` (lower-case wire bytes), from the source of truth. */
  get(key: Buffer): AnswerSet | undefined {
    return this.entries.get(key.toString("latin1"))?.value;
  }

  set(key: Buffer, value: AnswerSet): void {
    this.entries.set(key.toString("latin1"), { key, value });
    this.stale = true;
  }

  delete(key: Buffer): void {
    if (this.entries.delete(key.toString("latin1"))) this.stale = true;
  }

  private rebuild(): void {
    let bytes = 0;
    for (const { key, value } of this.entries.values()) bytes += 1 + key.length + 2 + value.count * RECORD_SIZE;
    let capacity = 16;
    while (capacity < 2 * this.entries.size) capacity *= 2;
    const slots = new Int32Array(2 * capacity).fill(-1);
    const arena = Buffer.allocUnsafe(bytes);
    const mask = capacity - 1;
    let o = 0;
    for (const { key, value } of this.entries.values()) {
      const hash = hashWire(key, 0, key.length);
      let i = hash & mask;
      while (slots[2 * i + 1]! >= 0) i = (i + 1) & mask;
      slots[2 * i] = hash;
      slots[2 * i + 1] = o;
      arena[o] = key.length;
      key.copy(arena, o + 1);
      o += 1 + key.length;
      arena.writeUInt16BE(value.count, o);
      value.records.copy(arena, o + 2);
      o += 2 + value.count * RECORD_SIZE;
    }
    this.slots = slots;
    this.mask = mask;
    this.packed = arena;
    this.stale = false;
  }
}
