// Plan, then apply, for one cell. A reconcile observes the kernel (the timer's full check, which
// repairs tampering and failed steps) or, for a change event, plans against the model of what the
// last successful apply left, so one policy change costs one small transaction and no table dump.
// Any failure drops the model, so the next reconcile starts from a fresh observation; failures are
// returned to the caller to retry, never just logged.
import type { Logger } from "../../common/logger.js";
import { silentLogger } from "../../common/logger.js";
import { WeftError } from "../../common/errors.js";
import type { Kernel, Netns, ObservedCell } from "../kernel/kernel-types.js";
import type { DesiredCell, Operation } from "./desired-state.js";
import { executeOperation } from "./execute-operation.js";
import { applyDeltaInPlace, applyOperation, cloneFilter, type MutableFilter } from "./model-apply.js";
import { planCell } from "./plan-cell.js";
import { planContainerChange, type ContainerChange } from "./plan-container-change.js";
import { planPolicyChange } from "./plan-policy-change.js";
import { PolicyIndex, type PolicyChange } from "./policy-index.js";

export interface ReconcileOptions {
  /** Observe the kernel first (default). False plans against the model when there is one. */
  readonly observe?: boolean;
}

export interface ReconcileResult {
  readonly ops: readonly Operation[];
  readonly observed: "kernel" | "model";
  /** Wall time of the whole call. */
  readonly durationMs: number;
  /** From the call until the rule transaction was committed (new traffic sees the change). */
  readonly rulesAppliedMs: number | undefined;
}

const since = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export interface CellReconcilerOptions {
  readonly kernel: Kernel;
  readonly netns: Netns;
  readonly logger?: Logger;
}

export class CellReconciler {
  private readonly kernel: Kernel;
  private readonly netns: Netns;
  private readonly log: Logger;
  private model: (ObservedCell & { readonly filter: MutableFilter }) | undefined;
  private policies: PolicyIndex | undefined;

  constructor(opts: CellReconcilerOptions) {
    this.kernel = opts.kernel;
    this.netns = opts.netns;
    this.log = opts.logger ?? silentLogger;
  }

  /** Forget the model: the next reconcile observes the kernel. */
  invalidate(): void {
    this.model = undefined;
    this.policies = undefined;
  }

  async reconcile(desired: DesiredCell, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
    const t0 = process.hrtime.bigint();
    let rulesAppliedMs: number | undefined;
    const fromModel = opts.observe === false && this.model !== undefined;
    let state =
      fromModel && this.model ? this.model : await this.kernel.observe(this.netns, { underlayDev: desired.underlayDev });
    const plan = planCell(desired, state);
    if (plan.kind === "blocked") {
      this.invalidate();
      throw new WeftError("INVALID_ARGUMENT", `cell cannot converge: ${plan.reason}`);
    }
    const done: Operation[] = [];
    for (const op of plan.ops) {
      try {
        await executeOperation(this.kernel, this.netns, op);
      } catch (err) {
        this.invalidate();
        this.log.warn({ err, op: op.kind, applied: done.length }, "reconcile-failed");
        throw new WeftError("INTERNAL", `reconcile failed at ${op.kind} after ${done.length} operations`, { cause: err });
      }
      done.push(op);
      if (op.kind === "applyRuleDelta") rulesAppliedMs = since(t0);
      state = applyOperation(state, op);
    }
    this.model = { ...state, filter: cloneFilter(state.filter) };
    this.policies = PolicyIndex.from(desired.policies);
    if (done.length > 0) {
      this.log.info({ ops: done.map((o) => o.kind), observed: fromModel ? "model" : "kernel" }, "cell-reconciled");
    }
    return { ops: done, observed: fromModel ? "model" : "kernel", durationMs: since(t0), rulesAppliedMs };
  }

  /**
   * One policy change, planned only for the groups it touches against the model (see
   * plan-policy-change.ts). `desired` is the state after the change, that is, the state of the
   * previous reconcile plus `change`; the timer's full reconcile corrects any difference. Without
   * a model this is a full reconcile.
   */
  async applyPolicyChange(desired: DesiredCell, change: PolicyChange): Promise<ReconcileResult> {
    const t0 = process.hrtime.bigint();
    const model = this.model;
    const policies = this.policies;
    if (!model || !policies) return this.reconcile(desired);
    policies.apply(change);
    const { delta, cuts } = planPolicyChange(desired, model.filter, change, policies);
    const ops: Operation[] = [];
    if (delta.addAllow.length + delta.removeAllow.length + delta.addPortClasses.length > 0) {
      ops.push({ kind: "applyRuleDelta", delta });
    }
    if (cuts.length > 0) ops.push({ kind: "flushConntrack", cuts });
    return this.runFast(t0, ops, "policy-change-applied");
  }

  /**
   * Containers added or removed (CNI ADD/DEL), planned only for their IPs (see
   * plan-container-change.ts). `desired` is the state after the change. Without a model this is
   * a full reconcile.
   */
  async applyContainerChange(desired: DesiredCell, change: ContainerChange): Promise<ReconcileResult> {
    const t0 = process.hrtime.bigint();
    const model = this.model;
    const policies = this.policies;
    if (!model || !policies) return this.reconcile(desired);
    return this.runFast(t0, planContainerChange(desired, model, change, policies), "container-change-applied");
  }

  private async runFast(t0: bigint, ops: readonly Operation[], event: string): Promise<ReconcileResult> {
    let rulesAppliedMs: number | undefined;
    for (const op of ops) {
      const model = this.model;
      if (!model) throw new WeftError("INTERNAL", "model dropped during a change");
      try {
        await executeOperation(this.kernel, this.netns, op);
      } catch (err) {
        this.invalidate();
        this.log.warn({ err, op: op.kind }, "change-failed");
        throw new WeftError("INTERNAL", `change failed at ${op.kind}`, { cause: err });
      }
      if (op.kind === "applyRuleDelta") {
        rulesAppliedMs = since(t0);
        applyDeltaInPlace(model.filter, op.delta);
      } else {
        // Links only: the filter keeps its (mutable, possibly large) maps as they are.
        this.model = { ...applyOperation(model, op), filter: model.filter };
      }
    }
    if (ops.length > 0) this.log.info({ ops: ops.map((o) => o.kind) }, event);
    return { ops, observed: "model", durationMs: since(t0), rulesAppliedMs };
  }
}
