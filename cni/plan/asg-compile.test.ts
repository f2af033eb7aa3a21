// The ASG compiler and the edge planner, pure: rules with the same protocol and ports share one
// nft rule with a merged destination set; ICMP any (-1) compiles; equal sets give the same chain
// name; logging names the app, space and org; containers map to their chain; NetIn host ports go
// to one container; a re-plan against its own result is empty.
import { describe, expect, it } from "vitest";
import { emptyDelta, emptyFilter } from "../kernel/kernel-types.js";
import { compileAsgChain, type CompilableRule } from "./asg-compile.js";
import type { DesiredCell } from "./desired-state.js";
import { applyDeltaInPlace, cloneFilter } from "./model-apply.js";
import { OPEN_EGRESS_CHAIN, desiredEdge, planEdge } from "./plan-filter.js";

const rule = (over: Partial<CompilableRule>): CompilableRule => ({ protocol: "tcp", destinations: ["10.0.0.1"], ports: "", icmpType: -1, icmpCode: -1, log: false, ...over });

describe("compileAsgChain", () => {
  it("groups rules by protocol and ports and merges their destinations", () => {
    const c = compileAsgChain([
      rule({ destinations: ["10.0.0.0/24"], ports: "443,80" }),
      rule({ destinations: ["10.0.0.128-10.0.1.5", "192.168.0.1"], ports: "80,443" }),
      rule({ protocol: "udp", destinations: ["0.0.0.0/0"], ports: "53" }),
      rule({ protocol: "all", destinations: ["172.16.0.0/12"] }),
    ]);
    expect(c.skipped).toEqual([]);
    expect(c.rules).toEqual([
      "ip daddr { 172.16.0.0-172.31.255.255 } accept",
      "ip daddr { 10.0.0.0-10.0.1.5, 192.168.0.1 } tcp dport { 80, 443 } accept",
      "udp dport { 53 } accept",
    ]);
    expect(c.name).toMatch(/^asg-[0-9a-f]{16}$/);
    expect(compileAsgChain([rule({ destinations: ["10.0.0.0/24"], ports: "80,443" })]).name).not.toBe(c.name);
  });

  it("compiles ICMP any (type and code -1) and specific types", () => {
    const c = compileAsgChain([rule({ protocol: "icmp", icmpType: -1, icmpCode: -1 }), rule({ protocol: "icmp", destinations: ["10.0.0.2"], icmpType: 8, icmpCode: 0 })]);
    expect(c.rules).toEqual(["ip daddr { 10.0.0.2 } meta l4proto icmp icmp type 8 icmp code 0 accept", "ip daddr { 10.0.0.1 } meta l4proto icmp accept"]);
  });

  it("an empty set is an empty chain (everything falls to the reject), the same for everyone", () => {
    expect(compileAsgChain([]).rules).toEqual([]);
    expect(compileAsgChain([]).name).toBe(compileAsgChain([]).name);
  });

  it("logs accepted (per rule) and denied (logAll) connections with the app, space and org", () => {
    const identity = { appGuid: "app-1", spaceGuid: "space-1", orgGuid: "org-1" };
    const c = compileAsgChain([rule({ log: true, ports: "80" })], { identity, logAll: true });
    expect(c.rules[0]).toBe('ip daddr { 10.0.0.1 } tcp dport { 80 } limit rate 10/second burst 20 packets log prefix "weft-egress-allowed app=app-1 space=space-1 org=org-1 " level info');
    expect(c.rules[1]).toBe("ip daddr { 10.0.0.1 } tcp dport { 80 } accept");
    expect(c.rules[2]).toBe('limit rate 10/second burst 20 packets log prefix "weft-egress-denied app=app-1 space=space-1 org=org-1 " level info');
  });

  it("skips malformed rules and says why, never allowing them", () => {
    const c = compileAsgChain([rule({ protocol: "sctp" }), rule({ destinations: ["nope"] }), rule({ ports: "0" }), rule({ ports: "22" })]);
    expect(c.skipped).toHaveLength(3);
    expect(c.rules).toEqual(["ip daddr { 10.0.0.1 } tcp dport { 22 } accept"]);
  });
});

describe("desiredEdge / planEdge", () => {
  const cell = (over: Partial<DesiredCell>): DesiredCell => ({
    overlayCidr: "10.255.0.0/16",
    lease: { subnet: "10.255.1.0/24", underlayIp: "10.0.0.11" },
    underlayDev: "eth0",
    remoteLeases: [],
    containers: [
      { id: "b", ip: "10.255.1.3", netns: "/n/b", appGuid: "app-b", portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: "tcp" }] },
      { id: "a", ip: "10.255.1.2", netns: "/n/a", appGuid: "app-a", portMappings: [{ hostPort: 18080, containerPort: 9090, protocol: "tcp" }] },
    ],
    policies: [],
    ...over,
  });

  it("without egress, every container uses the open chain; a host port goes to one container (the first by id)", () => {
    const want = desiredEdge(cell({ hostServices: [{ ip: "10.0.0.11", protocol: "tcp", port: 8200 }] }));
    expect([...want.chains]).toEqual([[OPEN_EGRESS_CHAIN, ["accept"]]]);
    expect([...want.elements.get("egress_sets")!.values()].sort()).toEqual([`10.255.1.2 : jump ${OPEN_EGRESS_CHAIN}`, `10.255.1.3 : jump ${OPEN_EGRESS_CHAIN}`]);
    expect([...want.elements.get("netin_dnat")!.values()]).toEqual(["tcp . 18080 : 10.255.1.2 . 9090"]);
    expect([...want.elements.get("netin")!.keys()].sort()).toEqual(["10.255.1.2 . tcp . 9090", "10.255.1.3 . tcp . 8080"]);
    expect([...want.elements.get("host_services")!.keys()]).toEqual(["10.0.0.11 . tcp . 8200"]);
  });

  it("moves containers between chains, deletes unused chains, and converges", () => {
    const x = compileAsgChain([rule({ ports: "80" })]);
    const y = compileAsgChain([rule({ ports: "443" })]);
    const egress = (a: string, b: string) => ({ chains: new Map([[x.name, x.rules], [y.name, y.rules]].filter(([n]) => n === a || n === b) as [string, readonly string[]][]), byIp: new Map([["10.255.1.2", a], ["10.255.1.3", b]]) });
    const model = cloneFilter(emptyFilter());
    const step = (d: DesiredCell) => {
      const delta = planEdge(desiredEdge(d), model);
      applyDeltaInPlace(model, { ...emptyDelta(), ...delta });
      return delta;
    };
    const first = step(cell({ egress: egress(x.name, x.name) }));
    expect(first.addChains?.map((c) => c.name)).toEqual([x.name]);
    const second = step(cell({ egress: egress(x.name, y.name) }));
    expect(second.addChains?.map((c) => c.name)).toEqual([y.name]);
    expect(second.removeChains).toEqual([]);
    expect(second.removeElements).toEqual([{ set: "egress_sets", key: "10.255.1.3" }]);
    const third = step(cell({ egress: egress(y.name, y.name) }));
    expect(third.removeChains).toEqual([x.name]);
    const again = planEdge(desiredEdge(cell({ egress: egress(y.name, y.name) })), model);
    expect([again.addChains, again.removeChains, again.addElements, again.removeElements].map((l) => l?.length)).toEqual([0, 0, 0, 0]);
  });
});
