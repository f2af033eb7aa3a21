// A recording fake of the kernel module for unit tests: it keeps one model per namespace (the
// same model the reconciler computes), records every call in order, and can be told to fail a
// call kind once so retry paths can be tested.
import { WeftError } from "../../common/errors.js";
import type { Operation } from "../plan/desired-state.js";
import { applyOperation } from "../plan/model-apply.js";
import { emptyCell, type Kernel, type Netns, type ObservedCell } from "./kernel-types.js";

export interface RecordedCall {
  readonly netns: Netns;
  readonly op: Operation;
}

export interface FakeKernel extends Kernel {
  readonly calls: RecordedCall[];
  /** Replaces a namespace's state, e.g. to simulate tampering. */
  setState(netns: Netns, update: (s: ObservedCell) => ObservedCell): void;
  state(netns: Netns): ObservedCell;
  failNext(kind: Operation["kind"]): void;
}

export function createFakeKernel(opts: { readonly underlayMtu?: number } = {}): FakeKernel {
  const states = new Map<Netns, ObservedCell>();
  const calls: RecordedCall[] = [];
  const failing = new Set<Operation["kind"]>();
  const get = (netns: Netns): ObservedCell =>
    states.get(netns) ?? { ...emptyCell(), underlayMtu: opts.underlayMtu ?? 1500 };

  function record(netns: Netns, op: Operation): Promise<void> {
    calls.push({ netns, op });
    if (failing.delete(op.kind)) return Promise.reject(new WeftError("INTERNAL", `injected failure of ${op.kind}`));
    states.set(netns, applyOperation(get(netns), op));
    return Promise.resolve();
  }

  return {
    calls,
    setState: (netns, update) => void states.set(netns, update(get(netns))),
    state: get,
    failNext: (kind) => void failing.add(kind),
    observe: (netns) => Promise.resolve(get(netns)),
    ensureCellBase: (netns, spec) => record(netns, { kind: "ensureCellBase", spec }),
    ensureVtep: (netns, spec, o = {}) => record(netns, { kind: "ensureVtep", spec, recreate: o.recreate ?? false }),
    deleteVtep: (netns) => {
      states.set(netns, { ...get(netns), vtep: undefined, vtepRoutes: new Map(), vtepNeighbours: new Map(), vtepFdb: new Map() });
      return Promise.resolve();
    },
    setRemoteLease: (netns, lease) => record(netns, { kind: "setRemoteLease", lease }),
    removeRemoteLease: (netns, lease) => record(netns, { kind: "removeRemoteLease", lease }),
    createContainerVeth: (netns, spec) => record(netns, { kind: "createContainerVeth", spec }),
    repairContainerHost: (netns, spec) => record(netns, { kind: "repairContainerHost", spec }),
    deleteContainerVeth: (netns, hostIf) => record(netns, { kind: "deleteContainerVeth", hostIf }),
    applyRuleDelta: (netns, delta) => record(netns, { kind: "applyRuleDelta", delta }),
    flushConntrack: async (netns, cuts) => {
      await record(netns, { kind: "flushConntrack", cuts });
      return 0;
    },
  };
}
