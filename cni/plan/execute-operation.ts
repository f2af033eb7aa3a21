// Dispatches one planned operation to the kernel module.
import type { Kernel, Netns } from "../kernel/kernel-types.js";
import type { Operation } from "./desired-state.js";

export async function executeOperation(kernel: Kernel, netns: Netns, op: Operation): Promise<void> {
  switch (op.kind) {
    case "ensureCellBase":
      return kernel.ensureCellBase(netns, op.spec);
    case "ensureVtep":
      return kernel.ensureVtep(netns, op.spec, { recreate: op.recreate });
    case "setRemoteLease":
      return kernel.setRemoteLease(netns, op.lease);
    case "removeRemoteLease":
      return kernel.removeRemoteLease(netns, op.lease);
    case "createContainerVeth":
      return kernel.createContainerVeth(netns, op.spec);
    case "repairContainerHost":
      return kernel.repairContainerHost(netns, op.spec);
    case "deleteContainerVeth":
      return kernel.deleteContainerVeth(netns, op.hostIf);
    case "applyRuleDelta":
      return kernel.applyRuleDelta(netns, op.delta);
    case "flushConntrack":
      await kernel.flushConntrack(netns, op.cuts);
      return;
  }
}
