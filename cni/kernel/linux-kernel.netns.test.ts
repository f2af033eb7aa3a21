// The Linux kernel module on its own, in a throwaway namespace: a failed transaction changes
// nothing and the nft session goes on; removals of absent objects succeed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNetnsFixture, type Namespace, type NetnsFixture } from "../../test/support/netns-fixture.js";
import { KernelCommandError } from "./command-runner.js";
import { emptyDelta } from "./kernel-types.js";
import { createLinuxKernel, type LinuxKernel } from "./linux-kernel.js";
import { expectedBaseComments } from "./nft-ruleset.js";

describe.runIf(process.getuid?.() === 0)("linux kernel module", () => {
  let fx: NetnsFixture;
  let ns: Namespace;
  let kernel: LinuxKernel;

  beforeAll(async () => {
    fx = await createNetnsFixture();
    ns = await fx.addContainer();
    kernel = createLinuxKernel();
  });
  afterAll(async () => {
    kernel?.close();
    await fx?.destroy();
  });

  it("applies a delta atomically: a failing transaction leaves the table as it was", async () => {
    await kernel.applyRuleDelta(ns.path, { ...emptyDelta(), createTable: true, rebuildBaseChains: ["ingress", "forward"], addContainers: ["10.255.1.2"] });
    const bad = { ...emptyDelta(), addContainers: ["10.255.1.3"], removeContainers: ["10.255.1.99"] };
    await expect(kernel.applyRuleDelta(ns.path, bad)).rejects.toBeInstanceOf(KernelCommandError);
    let seen = await kernel.observe(ns.path);
    expect([...seen.filter.containers]).toEqual(["10.255.1.2"]);
    // The same session carries on after the error.
    await kernel.applyRuleDelta(ns.path, { ...emptyDelta(), addContainers: ["10.255.1.3"] });
    seen = await kernel.observe(ns.path);
    expect([...seen.filter.containers].sort()).toEqual(["10.255.1.2", "10.255.1.3"]);
    expect(seen.filter.baseChains.get("forward")).toEqual(expectedBaseComments("forward"));
  });

  it("treats removing what is already gone as success", async () => {
    await kernel.deleteContainerVeth(ns.path, "w-010255001077");
    await kernel.removeRemoteLease(ns.path, { subnet: "10.255.9.0/24", vtepIp: "10.255.9.0", mac: "ee:ee:0a:ff:09:00" });
    expect(await kernel.flushConntrack(ns.path, [{ tag: 3, ip: "10.255.1.2", protocol: "tcp", ranges: [{ start: 80, end: 80 }] }])).toBe(0);
  });
});
