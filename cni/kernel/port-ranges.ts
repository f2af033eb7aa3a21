// Port ranges in canonical form: sorted, disjoint and non-adjacent. nftables rejects overlapping
// elements in one set, and the planner compares desired with observed state by value, so every
// range list is normalised here before it becomes a kernel object or a name.
import { mergeIntRanges } from "../../common/asg-rules.js";
import { WeftError } from "../../common/errors.js";

export interface PortRange {
  readonly start: number;
  readonly end: number;
}

export function validatePortRange(r: PortRange): PortRange {
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 1 || r.end > 65535 || r.start > r.end) {
    throw new WeftError("INVALID_ARGUMENT", `invalid port range ${r.start}-${r.end}`);
  }
  return r;
}

/** Sorted, disjoint, non-adjacent (the same merge the ASG rules use). */
export const mergeRanges: (ranges: readonly PortRange[]) => PortRange[] = mergeIntRanges;

/** Ports in `a` that are not in `b` (both canonical). */
export function subtractRanges(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const r of a) {
    let pieces: PortRange[] = [r];
    for (const s of b) {
      pieces = pieces.flatMap((p) => {
        if (s.end < p.start || s.start > p.end) return [p];
        const left = s.start > p.start ? [{ start: p.start, end: s.start - 1 }] : [];
        const right = s.end < p.end ? [{ start: s.end + 1, end: p.end }] : [];
        return [...left, ...right];
      });
    }
    out.push(...pieces);
  }
  return out;
}

export function rangeInList(port: number, ranges: readonly PortRange[]): boolean {
  return ranges.some((r) => port >= r.start && port <= r.end);
}

export function formatRange(r: PortRange): string {
  return r.start === r.end ? String(r.start) : `${r.start}-${r.end}`;
}

export function parseRange(text: string): PortRange | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m?.[1]) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 1 || end > 65535 || start > end) return undefined;
  return { start, end };
}

export function sameRanges(a: readonly PortRange[], b: readonly PortRange[]): boolean {
  return a.length === b.length && a.every((r, i) => r.start === b[i]?.start && r.end === b[i]?.end);
}
