import { describe, expect, it } from "vitest";
import { emptyDelta } from "./kernel-types.js";
import { isEmptyDelta, portChainName, renderDelta } from "./nft-ruleset.js";

describe("nft ruleset", () => {
  it("renders nothing for an empty delta", () => {
    expect(renderDelta(emptyDelta())).toBe("");
    expect(isEmptyDelta(emptyDelta())).toBe(true);
  });

  it("names port chains by content and keeps long lists within nft's limits", () => {
    expect(portChainName([{ start: 8080, end: 8090 }, { start: 9000, end: 9000 }])).toBe("ports_8080-8090_9000");
    const many = Array.from({ length: 40 }, (_, i) => ({ start: 1000 + i * 10, end: 1001 + i * 10 }));
    expect(portChainName(many)).toMatch(/^ports_h[0-9a-f]+_40$/);
  });

  it("orders one transaction so that every reference is valid", () => {
    const text = renderDelta({
      ...emptyDelta(),
      createTable: true,
      rebuildBaseChains: ["forward", "ingress"],
      putPortChains: [{ name: "ports_1-65535", ranges: [{ start: 1, end: 65535 }] }],
      deletePortChains: ["ports_80"],
      addAllow: [{ tag: 5, ip: "10.255.1.2", protocol: "tcp", chain: "ports_1-65535" }],
      removeAllow: [{ tag: 5, ip: "10.255.1.2", protocol: "tcp", chain: "ports_80" }],
      addContainers: ["10.255.1.2"],
    });
    const at = (needle: string) => text.indexOf(needle);
    expect(at("add table inet weft")).toBe(0);
    expect(at("add chain inet weft ports_1-65535")).toBeLessThan(at("add chain inet weft ingress"));
    expect(at("add chain inet weft ingress")).toBeLessThan(at("add chain inet weft forward"));
    expect(at("delete element inet weft allow { 0x5 . 10.255.1.2 . tcp }")).toBeLessThan(
      at("add element inet weft allow { 0x5 . 10.255.1.2 . tcp : jump ports_1-65535 }"),
    );
    expect(at("add element inet weft allow")).toBeLessThan(at("delete chain inet weft ports_80"));
    // A full port range is one rule, not 65,535 elements.
    expect(text.match(/th dport 1-65535/g)).toHaveLength(1);
    expect(text).toContain('comment "weft:v1:ports:1-65535"');
  });
});
