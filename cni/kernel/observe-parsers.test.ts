import { describe, expect, it } from "vitest";
import { flowsToCut, parseConntrack } from "./conntrack.js";
import { parseFdb } from "./link-observe.js";
import { parseNftTable } from "./nft-observe.js";

describe("nft observation", () => {
  it("reads base rule comments, sets, the allow map and port classes", () => {
    const doc = {
      nftables: [
        { metainfo: {} },
        { table: { family: "inet", name: "weft" } },
        { set: { name: "containers", elem: ["10.255.1.2", "10.255.1.3"] } },
        { map: { name: "tags", elem: [["10.255.1.2", 5]] } },
        { set: { name: "overlay", elem: [{ prefix: { addr: "10.255.0.0", len: 16 } }] } },
        { map: { name: "allow", elem: [[{ concat: [5, "10.255.1.3", "tcp"] }, 65537]] } },
        { set: { name: "ports", elem: [{ concat: [65537, 9000] }, { concat: [65537, { range: [8080, 8090] }] }] } },
        { chain: { name: "forward" } },
        { rule: { chain: "forward", comment: "weft:v1:established" } },
        { rule: { chain: "forward" } },
      ],
    };
    const f = parseNftTable(JSON.stringify(doc));
    expect(f.present).toBe(true);
    expect([...f.containers]).toEqual(["10.255.1.2", "10.255.1.3"]);
    expect(f.tags.get("10.255.1.2")).toBe(5);
    expect([...f.overlay]).toEqual(["10.255.0.0/16"]);
    expect(f.allow.get("5|10.255.1.3|tcp")?.classId).toBe(0x10001);
    expect(f.baseChains.get("forward")).toEqual(["weft:v1:established", ""]);
    expect(f.portClasses.get(0x10001)).toEqual([{ start: 8080, end: 8090 }, { start: 9000, end: 9000 }]);
  });
});

describe("fdb observation", () => {
  it("keeps only the VTEP's entries with a destination", () => {
    const rows = [
      { mac: "ee:ee:0a:ff:02:00", ifname: "weft-vtep", dst: "10.211.0.12", flags: ["self"], state: "permanent" },
      { mac: "33:33:00:00:00:01", ifname: "w-010255001002", flags: ["self"], state: "permanent" },
    ];
    expect([...parseFdb(JSON.stringify(rows))]).toEqual([["ee:ee:0a:ff:02:00", "10.211.0.12"]]);
  });
});

describe("conntrack", () => {
  const listing = [
    "tcp      6 431999 ESTABLISHED src=10.255.1.2 dst=10.255.2.2 sport=40000 dport=8085 src=10.255.2.2 dst=10.255.1.2 sport=8085 dport=40000 [ASSURED] mark=1 use=1",
    "tcp      6 431999 ESTABLISHED src=10.255.1.2 dst=10.255.2.2 sport=40001 dport=9000 src=10.255.2.2 dst=10.255.1.2 sport=9000 dport=40001 [ASSURED] mark=1 use=1",
    "udp      17 29 src=10.255.1.2 dst=10.255.2.2 sport=5000 dport=8080 src=10.255.2.2 dst=10.255.1.2 sport=8080 dport=5000 mark=2 use=1",
    "icmp     1 29 src=10.255.1.2 dst=10.255.2.2 type=8 code=0 id=1 mark=1 use=1",
  ].join("\n");

  it("parses the original tuple and mark of TCP and UDP entries", () => {
    const flows = parseConntrack(listing);
    expect(flows).toHaveLength(3);
    expect(flows[0]).toEqual({ protocol: "tcp", src: "10.255.1.2", dst: "10.255.2.2", sport: 40000, dport: 8085, mark: 1 });
  });

  it("selects exactly the flows of the removed tag, destination, protocol and ports", () => {
    const cut = flowsToCut(parseConntrack(listing), [
      { tag: 1, ip: "10.255.2.2", protocol: "tcp", ranges: [{ start: 8080, end: 8090 }] },
    ]);
    expect(cut.map((f) => f.sport)).toEqual([40000]);
  });
});
