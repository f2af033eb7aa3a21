// The planner and reconciler against the recording fake: order, convergence, deltas, cuts,
// repair, and retry after a failed step. No kernel needed.
import { describe, expect, it } from "vitest";
import { createFakeKernel } from "../kernel/fake-kernel.js";
import { emptyCell } from "../kernel/kernel-types.js";
import { CellReconciler } from "./cell-reconciler.js";
import type { DesiredCell, DesiredPolicy } from "./desired-state.js";
import { planCell } from "./plan-cell.js";

const NS = "/var/run/netns/cell";

function cell(policies: DesiredPolicy[] = []): DesiredCell {
  return {
    overlayCidr: "10.255.0.0/16",
    lease: { subnet: "10.255.1.0/24", underlayIp: "10.0.0.1" },
    underlayDev: "eth0",
    remoteLeases: [
      { subnet: "10.255.1.0/24", underlayIp: "10.0.0.1" },
      { subnet: "10.255.2.0/24", underlayIp: "10.0.0.2" },
      { subnet: "192.168.0.0/24", underlayIp: "10.0.0.9" },
    ],
    containers: [
      { id: "a", ip: "10.255.1.2", netns: "/ns/a", appGuid: "A", tag: 1 },
      { id: "b", ip: "10.255.1.3", netns: "/ns/b", appGuid: "B", tag: 2 },
      { id: "b2", ip: "10.255.1.4", netns: "/ns/b2", appGuid: "B", tag: 2 },
    ],
    policies,
  };
}

const tcp = (start: number, end: number): DesiredPolicy => ({
  sourceTag: 1,
  destAppGuid: "B",
  protocol: "tcp",
  ports: { start, end },
});

describe("cell planner", () => {
  it("programs an empty cell in make-before-break order", () => {
    const plan = planCell(cell([tcp(8080, 8090)]), { ...emptyCell(), underlayMtu: 1500 });
    expect(plan.kind).toBe("ops");
    if (plan.kind !== "ops") return;
    expect(plan.ops.map((o) => o.kind)).toEqual([
      "ensureCellBase",
      "ensureVtep",
      "setRemoteLease",
      "applyRuleDelta",
      "createContainerVeth",
      "createContainerVeth",
      "createContainerVeth",
    ]);
    const vtep = plan.ops[1];
    expect(vtep?.kind === "ensureVtep" && vtep.spec).toMatchObject({ mtu: 1450, address: "10.255.1.0", mac: "ee:ee:0a:ff:01:00" });
    const lease = plan.ops[2];
    expect(lease?.kind === "setRemoteLease" && lease.lease).toEqual({
      subnet: "10.255.2.0/24",
      vtepIp: "10.255.2.0",
      mac: "ee:ee:0a:ff:02:00",
      underlayIp: "10.0.0.2",
      localVtepIp: "10.255.1.0",
    });
    const rules = plan.ops[3];
    if (rules?.kind !== "applyRuleDelta") throw new Error("expected rules");
    expect(rules.delta.createTable).toBe(true);
    expect(rules.delta.addAllow.map((e) => `${e.tag}.${e.ip}.${e.protocol}:${e.classId.toString(16)}`).sort()).toEqual([
      "1.10.255.1.3.tcp:10000",
      "1.10.255.1.4.tcp:10000",
    ]);
    expect(rules.delta.addPortClasses).toEqual([{ id: 0x10000, ranges: [{ start: 8080, end: 8090 }] }]);
    expect(rules.delta.addTags).toEqual([
      { ip: "10.255.1.2", tag: 1 },
      { ip: "10.255.1.3", tag: 2 },
      { ip: "10.255.1.4", tag: 2 },
    ]);
  });

  it("is blocked, not thrown, on a container outside the lease or a missing underlay", () => {
    const bad = { ...cell(), containers: [{ id: "x", ip: "10.255.9.9", netns: "/ns/x", appGuid: "X" }] };
    expect(planCell(bad, { ...emptyCell(), underlayMtu: 1500 })).toMatchObject({ kind: "blocked" });
    expect(planCell(cell(), emptyCell())).toEqual({ kind: "blocked", reason: "underlay device eth0 not found" });
  });

  it("keeps a 1-65535 range as one port class with one range", () => {
    const plan = planCell(cell([tcp(1, 65535)]), { ...emptyCell(), underlayMtu: 1500 });
    if (plan.kind !== "ops") throw new Error(plan.reason);
    const rules = plan.ops.find((o) => o.kind === "applyRuleDelta");
    expect(rules?.kind === "applyRuleDelta" && rules.delta.addPortClasses).toEqual([
      { id: 0x10000, ranges: [{ start: 1, end: 65535 }] },
    ]);
  });
});

describe("cell reconciler", () => {
  it("converges, then writes nothing on a converged cell", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell([tcp(8080, 8090)]));
    const before = kernel.calls.length;
    expect((await rec.reconcile(cell([tcp(8080, 8090)]))).ops).toEqual([]);
    expect((await rec.reconcile(cell([tcp(8080, 8090)]), { observe: false })).ops).toEqual([]);
    expect(kernel.calls.length).toBe(before);
  });

  it("applies one policy change as one delta and cuts only the ports no longer allowed", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell([tcp(8080, 8090), tcp(8085, 9000)]));
    const r = await rec.reconcile(cell([tcp(8080, 8090)]), { observe: false });
    expect(r.observed).toBe("model");
    expect(r.ops.map((o) => o.kind)).toEqual(["applyRuleDelta", "flushConntrack"]);
    const [delta, cut] = r.ops;
    if (delta?.kind !== "applyRuleDelta" || cut?.kind !== "flushConntrack") throw new Error("unexpected ops");
    // The old class is unused: the small ports set is refilled with exactly the classes in use.
    expect(delta.delta.addPortClasses).toEqual([]);
    expect(delta.delta.resetPortClasses).toEqual([{ id: 0x10001, ranges: [{ start: 8080, end: 8090 }] }]);
    expect(delta.delta.removeAllow).toHaveLength(2);
    expect(delta.delta.addAllow).toHaveLength(2);
    expect(cut.cuts).toEqual([
      { tag: 1, ip: "10.255.1.3", protocol: "tcp", ranges: [{ start: 8091, end: 9000 }] },
      { tag: 1, ip: "10.255.1.4", protocol: "tcp", ranges: [{ start: 8091, end: 9000 }] },
    ]);
  });

  it("upgrades an older ruleset: its stale base chain goes, the others are rewritten, then nothing", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell([tcp(8080, 8090)]));
    // A table written by ruleset v2: the tag rule in a prerouting chain of its own.
    kernel.setState(NS, (s) => {
      const baseChains = new Map(s.filter.baseChains).set("prerouting", ["weft:v2:egress-mark"]);
      return { ...s, filter: { ...s.filter, baseChains } };
    });
    const r = await rec.reconcile(cell([tcp(8080, 8090)]));
    const rules = r.ops.find((o) => o.kind === "applyRuleDelta");
    expect(rules?.kind === "applyRuleDelta" && rules.delta.removeChains).toEqual(["prerouting"]);
    expect(kernel.state(NS).filter.baseChains.has("prerouting")).toBe(false);
    expect((await rec.reconcile(cell([tcp(8080, 8090)]))).ops).toEqual([]);
  });

  it("repairs what was tampered with and nothing else", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell([tcp(8080, 8090)]));
    kernel.setState(NS, (s) => {
      const routes = new Map(s.vtepRoutes);
      routes.delete("10.255.2.0/24");
      routes.set("10.255.7.0/24", "10.255.7.0");
      const baseChains = new Map(s.filter.baseChains).set("forward", []);
      return { ...s, vtepRoutes: routes, filter: { ...s.filter, baseChains } };
    });
    const r = await rec.reconcile(cell([tcp(8080, 8090)]));
    expect(r.ops.map((o) => o.kind)).toEqual(["setRemoteLease", "applyRuleDelta", "removeRemoteLease"]);
    const rules = r.ops[1];
    expect(rules?.kind === "applyRuleDelta" && rules.delta.rebuildBaseChains).toEqual(["forward"]);
    expect(r.ops[2]).toEqual({ kind: "removeRemoteLease", lease: { subnet: "10.255.7.0/24" } });
  });

  it("recreates a VTEP whose VXLAN parameters are wrong, and re-adds every lease", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell());
    kernel.setState(NS, (s) => ({ ...s, vtep: s.vtep && { ...s.vtep, gbp: false } }));
    const r = await rec.reconcile(cell());
    expect(r.ops.map((o) => o.kind)).toEqual(["ensureVtep", "setRemoteLease"]);
    expect(r.ops[0]).toMatchObject({ recreate: true });
  });

  it("drops its model after a failed step and observes again on the next reconcile", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell());
    kernel.failNext("applyRuleDelta");
    await expect(rec.reconcile(cell([tcp(80, 80)]), { observe: false })).rejects.toThrow(/applyRuleDelta/);
    const retry = await rec.reconcile(cell([tcp(80, 80)]), { observe: false });
    expect(retry.observed).toBe("kernel");
    expect(retry.ops.map((o) => o.kind)).toEqual(["applyRuleDelta"]);
  });

  it("deletes the veth of a removed container before its rules go", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    await rec.reconcile(cell([tcp(8080, 8090)]));
    const fewer = { ...cell([tcp(8080, 8090)]), containers: cell().containers.slice(0, 2) };
    const r = await rec.reconcile(fewer);
    expect(r.ops.map((o) => o.kind)).toEqual(["deleteContainerVeth", "applyRuleDelta"]);
    const rules = r.ops[1];
    expect(rules?.kind === "applyRuleDelta" && rules.delta.removeContainers).toEqual(["10.255.1.4"]);
  });
});

describe("policy change fast path", () => {
  it("emits what a full plan would, and leaves nothing for the full reconcile but unused chains", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    const base = [tcp(8080, 8090), { ...tcp(9000, 9000), sourceTag: 7 }];
    await rec.reconcile(cell(base));

    const added = tcp(8085, 8100);
    const grow = await rec.applyPolicyChange(cell([...base, added]), { added: [added], removed: [] });
    expect(grow.ops.map((o) => o.kind)).toEqual(["applyRuleDelta"]);
    const delta = grow.ops[0];
    if (delta?.kind !== "applyRuleDelta") throw new Error("expected a delta");
    expect(delta.delta.addPortClasses).toEqual([{ id: 0x10002, ranges: [{ start: 8080, end: 8100 }] }]);
    expect(delta.delta.addAllow).toHaveLength(2);
    expect(delta.delta.removeAllow).toHaveLength(2);

    const shrink = await rec.applyPolicyChange(cell(base), { added: [], removed: [added] });
    expect(shrink.ops.map((o) => o.kind)).toEqual(["applyRuleDelta", "flushConntrack"]);
    // Back to 8080-8090: the class still in the kernel is reused.
    expect(shrink.ops[0]).toMatchObject({ delta: { addPortClasses: [], addAllow: [{ classId: 0x10000 }, { classId: 0x10000 }] } });
    expect(shrink.ops[1]).toMatchObject({ cuts: [{ tag: 1, ranges: [{ start: 8091, end: 8100 }] }, { tag: 1 }] });

    const gone = await rec.applyPolicyChange(cell([base[1]!]), { added: [], removed: [base[0]!] });
    expect(gone.ops.map((o) => o.kind)).toEqual(["applyRuleDelta", "flushConntrack"]);

    // A full reconcile now finds only the classes nobody references.
    const full = await rec.reconcile(cell([base[1]!]));
    expect(full.ops.map((o) => o.kind)).toEqual(["applyRuleDelta"]);
    const gc = full.ops[0];
    expect(gc?.kind === "applyRuleDelta" && gc.delta.resetPortClasses).toEqual([{ id: 0x10001, ranges: [{ start: 9000, end: 9000 }] }]);
    expect(gc?.kind === "applyRuleDelta" && gc.delta.addAllow.length + gc.delta.removeAllow.length).toBe(0);
  });
});

describe("container change fast path", () => {
  it("adds and removes a container as a full plan would, veth after its rules on ADD", async () => {
    const kernel = createFakeKernel();
    const rec = new CellReconciler({ kernel, netns: NS });
    const all = cell([tcp(8080, 8090)]);
    const [a, b, b2] = all.containers;
    if (!a || !b || !b2) throw new Error("fixture");
    const without = { ...all, containers: [a, b] };
    await rec.reconcile(without);

    const added = await rec.applyContainerChange(all, { added: [b2], removed: [] });
    expect(added.ops.map((o) => o.kind)).toEqual(["applyRuleDelta", "createContainerVeth"]);
    expect(added.ops[0]).toMatchObject({
      delta: { addContainers: ["10.255.1.4"], addTags: [{ ip: "10.255.1.4", tag: 2 }], addAllow: [{ tag: 1, ip: "10.255.1.4", classId: 0x10000 }] },
    });
    expect((await rec.reconcile(all)).ops).toEqual([]);

    const removed = await rec.applyContainerChange(without, { added: [], removed: [b2] });
    expect(removed.ops.map((o) => o.kind)).toEqual(["deleteContainerVeth", "applyRuleDelta"]);
    expect((await rec.reconcile(without)).ops).toEqual([]);
  });
});
