import { describe, expect, it } from "vitest";
import { mergeRanges, parseRange, subtractRanges, validatePortRange } from "./port-ranges.js";

describe("port ranges", () => {
  it("merges overlapping and adjacent ranges into a canonical list", () => {
    expect(mergeRanges([{ start: 9000, end: 9000 }, { start: 8085, end: 8100 }, { start: 8080, end: 8090 }, { start: 8101, end: 8101 }]))
      .toEqual([{ start: 8080, end: 8101 }, { start: 9000, end: 9000 }]);
  });

  it("subtracts ranges, splitting where needed", () => {
    expect(subtractRanges([{ start: 1, end: 65535 }], [{ start: 8080, end: 8090 }])).toEqual([
      { start: 1, end: 8079 },
      { start: 8091, end: 65535 },
    ]);
    expect(subtractRanges([{ start: 8080, end: 8090 }], [{ start: 8000, end: 9000 }])).toEqual([]);
  });

  it("parses and validates", () => {
    expect(parseRange("8080-8090")).toEqual({ start: 8080, end: 8090 });
    expect(parseRange("53")).toEqual({ start: 53, end: 53 });
    expect(parseRange("0-5")).toBeUndefined();
    expect(() => validatePortRange({ start: 10, end: 9 })).toThrow(/invalid port range/);
  });
});
