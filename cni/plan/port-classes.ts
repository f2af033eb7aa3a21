// Port classes: every distinct merged range list gets one id, shared by all allow entries with
// those ranges. An id is reused while a class with exactly those ranges exists in the kernel, and
// new ids are the lowest free ones above every tag, so ids stay small and stable across restarts.
import { PORT_CLASS_BASE } from "../kernel/nft-ruleset.js";
import { formatRange, type PortRange } from "../kernel/port-ranges.js";
import { WeftError } from "../../common/errors.js";

const PORT_CLASS_MAX = PORT_CLASS_BASE + 0xfffe;

export const rangesKey = (ranges: readonly PortRange[]): string => ranges.map(formatRange).join(",");

export class PortClassAllocator {
  private readonly byRanges = new Map<string, number>();
  private readonly used = new Set<number>();
  private next = PORT_CLASS_BASE;

  constructor(existing: ReadonlyMap<number, readonly PortRange[]>) {
    for (const [id, ranges] of [...existing].sort((a, b) => a[0] - b[0])) {
      this.used.add(id);
      const key = rangesKey(ranges);
      if (!this.byRanges.has(key)) this.byRanges.set(key, id);
    }
  }

  /** The id for canonical `ranges`: an existing class with exactly these ranges, or a new one. */
  idFor(ranges: readonly PortRange[]): number {
    const key = rangesKey(ranges);
    const have = this.byRanges.get(key);
    if (have !== undefined) return have;
    while (this.used.has(this.next)) this.next++;
    if (this.next > PORT_CLASS_MAX) throw new WeftError("INTERNAL", "more than 65,535 distinct port range lists on one cell");
    const id = this.next;
    this.used.add(id);
    this.byRanges.set(key, id);
    return id;
  }
}
