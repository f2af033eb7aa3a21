import { describe, expect, it } from "vitest";
import { emptyDelta } from "./kernel-types.js";
import { isEmptyDelta, renderDelta } from "./nft-ruleset.js";

describe("nft ruleset", () => {
  it("renders nothing for an empty delta", () => {
    expect(renderDelta(emptyDelta())).toBe("");
    expect(isEmptyDelta(emptyDelta())).toBe(true);
  });

  it("orders one transaction so that every reference is valid", () => {
    const text = renderDelta({
      ...emptyDelta(),
      createTable: true,
      rebuildBaseChains: ["forward", "ingress"],
      addPortClasses: [{ id: 0x10001, ranges: [{ start: 1, end: 65535 }] }],
      resetPortClasses: [{ id: 0x10002, ranges: [{ start: 80, end: 80 }, { start: 8080, end: 8090 }] }],
      addAllow: [{ tag: 5, ip: "10.255.1.2", protocol: "tcp", classId: 0x10001 }],
      removeAllow: [{ tag: 5, ip: "10.255.1.2", protocol: "tcp", classId: 0x10000 }],
      addContainers: ["10.255.1.2"],
    });
    const at = (needle: string) => text.indexOf(needle);
    expect(at("add table inet weft")).toBe(0);
    expect(at("add chain inet weft ingress")).toBeLessThan(at("add chain inet weft forward"));
    expect(at("delete element inet weft allow { 0x5 . 10.255.1.2 . tcp }")).toBeLessThan(
      at("add element inet weft allow { 0x5 . 10.255.1.2 . tcp : 0x10001 }"),
    );
    expect(at("flush set inet weft ports")).toBeLessThan(at("add element inet weft ports"));
    expect(text).toContain("add element inet weft ports { 0x10002 . 80, 0x10002 . 8080-8090, 0x10001 . 1-65535 }");
    expect(at("add element inet weft ports")).toBeLessThan(at("add element inet weft allow"));
    // A full port range is one element, not 65,535.
    expect(text.match(/1-65535/g)).toHaveLength(1);
  });
});
