// The agents process of the propagation benchmark, forked by bench/propagation.ts so that the
// simulated cells never share an event loop with control. Each light cell is a real agent minus
// the kernel: its own join token, key and cell certificate, a lease for a distinct fake underlay
// IP, registered instances, and a real mTLS Sync stream through the agent's own SyncLoop. Unlike
// test/support/sim-agent.ts it keeps no message log and no lease map (5,000 cells x 5,000 leases
// would not fit): only the policy keys it enforces and a short ring of (revision, time applied),
// which is what the bench asks about over IPC (see AgentsRequest in propagation-plan.ts).
import { ControlClient } from "../cni/control-link/control-client.js";
import { joinCell } from "../cni/control-link/join.js";
import { SyncLoop, type SyncHandler } from "../cni/control-link/sync-loop.js";
import { errorMessage } from "../common/errors.js";
import type { ControlMessage } from "../proto/types.js";
import { rssKbOf } from "./propagation-control.js";
import { nowMs, policyKey, type AgentsReply, type AgentsRequest, type AgentsStats, type AwaitResult, type CellPlan, type InstancePlan, type LeaseResult, type PrepareResult } from "./propagation-plan.js";
import { restClient, type RestClient } from "./propagation-rest.js";

interface Applied {
  readonly rev: number;
  readonly t: number;
  readonly up: readonly string[] | null;
  readonly removed: readonly string[] | null;
}

const RING = 64;

function hostIp(subnet: string, host: number): string {
  const [a, b, c, d] = subnet.split("/")[0]!.split(".").map(Number) as [number, number, number, number];
  const n = (((a << 24) >>> 0) + (b << 16) + (c << 8) + d + host) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

class LightCell implements SyncHandler {
  enforced = 0;
  subnet = "";
  readonly policies = new Set<string>();
  readonly ring: Applied[] = [];
  loop: SyncLoop | undefined;
  private readonly ips = new Map<string, string>();
  private snapshotSeen: (() => void) | undefined;

  constructor(
    readonly cellId: string,
    readonly underlayIp: string,
    readonly client: ControlClient,
    private readonly fleet: Fleet,
  ) {}

  enforcedRevision(): number {
    return this.enforced;
  }

  /** The overlay IP of an instance on this cell (stable, so a retried registration is the same). */
  ipOf(instanceGuid: string): string {
    let ip = this.ips.get(instanceGuid);
    if (!ip) this.ips.set(instanceGuid, (ip = hostIp(this.subnet, this.ips.size + 2)));
    return ip;
  }

  startSync(): Promise<void> {
    const seen = new Promise<void>((resolve) => (this.snapshotSeen = resolve));
    this.loop = new SyncLoop(this.client, this, undefined, { initialMs: 100, maxMs: 2000 });
    this.loop.start();
    return seen;
  }

  onDisconnected(): void {
    this.fleet.reconnects++;
  }

  apply(msg: ControlMessage): Promise<void> {
    let up: string[] | null = null;
    let removed: string[] | null = null;
    if (msg.kind === "snapshot" && msg.snapshot) {
      this.policies.clear();
      for (const p of msg.snapshot.policies) this.policies.add(policyKey(p.sourceApp, p.destApp, p.protocol, p.startPort, p.endPort));
      this.fleet.snapshots++;
      this.snapshotSeen?.();
      this.snapshotSeen = undefined;
    } else if (msg.kind === "delta" && msg.delta) {
      const d = msg.delta;
      for (const p of d.policiesAdded) this.policies.add(policyKey(p.sourceApp, p.destApp, p.protocol, p.startPort, p.endPort));
      for (const p of d.policiesRemoved) this.policies.delete(policyKey(p.sourceApp, p.destApp, p.protocol, p.startPort, p.endPort));
      if (d.leasesUpserted.length > 0 && d.leasesUpserted.length <= 8) up = d.leasesUpserted.map((l) => l.overlaySubnet);
      if (d.leasesRemoved.length > 0 && d.leasesRemoved.length <= 8) removed = d.leasesRemoved;
      this.fleet.deltas++;
    }
    this.enforced = Math.max(this.enforced, msg.revision);
    const e: Applied = { rev: msg.revision, t: nowMs(), up, removed };
    this.ring.push(e);
    if (this.ring.length > RING) this.ring.shift();
    this.fleet.applied(this, e);
    return Promise.resolve();
  }
}

interface Waiter {
  readonly pending: Set<string>;
  readonly match: (e: Applied) => boolean;
  readonly times: number[];
  done(): void;
}

/** Retries a setup step a few times: under load a keep-alive socket can be closed under a request. */
async function retried<T>(fleet: Fleet, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3) throw err;
      fleet.retries++;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

async function inParallel<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

class Fleet {
  readonly cells = new Map<string, LightCell>();
  private readonly waiters = new Set<Waiter>();
  snapshots = 0;
  deltas = 0;
  reconnects = 0;
  retries = 0;
  private api: { rest: RestClient; apiUrl: string; apiCaPem: string } | undefined;
  private spare: LightCell | undefined;

  init(apiUrl: string, apiCaPem: string, adminToken: string): void {
    this.api = { rest: restClient(apiUrl, apiCaPem, adminToken), apiUrl, apiCaPem };
  }

  private async join(cellId: string, underlayIp: string): Promise<LightCell> {
    const api = this.api!;
    const res = await api.rest.send("POST", "/weft/v1/join-tokens", { cell_id: cellId });
    if (res.status !== 201) throw new Error(`join token for ${cellId}: ${res.status} ${res.text}`);
    const creds = await joinCell({ apiUrl: api.apiUrl, apiCaPem: api.apiCaPem, token: (res.json as { token: string }).token, cellId });
    return new LightCell(cellId, underlayIp, new ControlClient(creds, { deadlineMs: 60_000 }), this);
  }

  private async registerOn(cell: LightCell, inst: InstancePlan): Promise<void> {
    const ip = cell.ipOf(inst.guid);
    await cell.client.registerInstance(
      { instanceGuid: inst.guid, appGuid: inst.app, spaceGuid: "space-bench", orgGuid: "org-bench", index: inst.index, overlayIp: ip, ports: [8080], lifecycle: "running", cellId: "" },
      inst.app,
    );
  }

  async prepare(plans: readonly CellPlan[], concurrency: number): Promise<PrepareResult> {
    const t0 = nowMs();
    let failed = 0;
    let firstError: string | null = null;
    const stageMs = { join: 0, lease: 0, register: 0 };
    await inParallel(plans, concurrency, async (plan) => {
      try {
        let t = nowMs();
        const lap = (stage: keyof typeof stageMs) => {
          const now = nowMs();
          stageMs[stage] += now - t;
          t = now;
        };
        const cell = await retried(this, () => this.join(plan.cellId, plan.underlayIp));
        lap("join");
        cell.subnet = (await retried(this, () => cell.client.acquireLease(plan.underlayIp))).overlaySubnet;
        lap("lease");
        for (const inst of plan.instances) await retried(this, () => this.registerOn(cell, inst));
        lap("register");
        this.cells.set(cell.cellId, cell);
      } catch (err) {
        failed++;
        firstError ??= errorMessage(err);
      }
    });
    const avg = (v: number) => Math.round(v / Math.max(1, plans.length));
    return { ms: nowMs() - t0, failed, firstError, stageMs: { join: avg(stageMs.join), lease: avg(stageMs.lease), register: avg(stageMs.register) } };
  }

  async sync(concurrency: number): Promise<number> {
    const t0 = nowMs();
    await inParallel([...this.cells.values()].filter((c) => !c.loop), concurrency, (cell) => cell.startSync());
    return nowMs() - t0;
  }

  applied(cell: LightCell, e: Applied): void {
    for (const w of this.waiters) {
      if (w.pending.has(cell.cellId) && w.match(e)) {
        w.pending.delete(cell.cellId);
        w.times.push(e.t);
        if (w.pending.size === 0) w.done();
      }
    }
  }

  /** Waits until every listed cell applied an update matching `match`; returns the times and the cells still missing. */
  private waitFor(cellIds: readonly string[], match: (e: Applied) => boolean, timeoutMs: number): Promise<{ times: number[]; missing: string[] }> {
    const times: number[] = [];
    const pending = new Set<string>();
    for (const id of cellIds) {
      const hit = this.cells.get(id)?.ring.find(match);
      if (hit) times.push(hit.t);
      else pending.add(id);
    }
    if (pending.size === 0) return Promise.resolve({ times, missing: [] });
    return new Promise((resolve) => {
      const w: Waiter = {
        pending,
        match,
        times,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve({ times, missing: [] });
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve({ times, missing: [...pending] });
      }, timeoutMs);
      this.waiters.add(w);
    });
  }

  async awaitRevision(revision: number, cellIds: readonly string[], key: string, timeoutMs: number): Promise<AwaitResult> {
    const { times, missing } = await this.waitFor(cellIds, (e) => e.rev >= revision, timeoutMs);
    const relevant = new Set(cellIds);
    let withoutPolicy = 0;
    let extraneous = 0;
    for (const [id, cell] of this.cells) {
      const holds = cell.policies.has(key);
      if (relevant.has(id) && !holds && !missing.includes(id)) withoutPolicy++;
      if (!relevant.has(id) && holds) extraneous++;
    }
    return { times, missing: missing.slice(0, 10), withoutPolicy, extraneous };
  }

  async lease(action: "acquire" | "release", underlayIp: string, timeoutMs: number): Promise<LeaseResult> {
    this.spare ??= await this.join("spare-lease-cell", "100.127.255.1");
    const t0 = nowMs();
    let subnet: string;
    if (action === "acquire") {
      subnet = (await this.spare.client.acquireLease(underlayIp)).overlaySubnet;
      this.spare.subnet = subnet;
    } else {
      subnet = this.spare.subnet;
      await this.spare.client.releaseLease(underlayIp);
    }
    // Only updates applied after t0 count (a released block can be leased again later).
    const match = (e: Applied) => e.t >= t0 && (action === "acquire" ? e.up : e.removed)?.includes(subnet) === true;
    const { times, missing } = await this.waitFor([...this.cells.keys()], match, timeoutMs);
    return { t0, subnet, times, missing: missing.length };
  }

  stats(): AgentsStats {
    let syncing = 0;
    for (const c of this.cells.values()) if (c.loop?.connected) syncing++;
    return { cells: this.cells.size, syncing, snapshots: this.snapshots, deltas: this.deltas, reconnects: this.reconnects, retries: this.retries, rssKb: rssKbOf(process.pid) };
  }

  stop(): void {
    for (const c of this.cells.values()) {
      c.loop?.stop();
      c.client.close();
    }
    this.spare?.client.close();
    this.api?.rest.close();
  }
}

async function handle(fleet: Fleet, req: AgentsRequest): Promise<unknown> {
  switch (req.op) {
    case "init":
      fleet.init(req.apiUrl, req.apiCaPem, req.adminToken);
      return null;
    case "prepare":
      return fleet.prepare(req.cells, req.concurrency);
    case "sync":
      return fleet.sync(req.concurrency);
    case "await":
      return fleet.awaitRevision(req.revision, req.cells, req.policyKey, req.timeoutMs);
    case "lease":
      return fleet.lease(req.action, req.underlayIp, req.timeoutMs);
    case "stats":
      return fleet.stats();
    case "stop":
      fleet.stop();
      return null;
  }
}

function main(): void {
  if (!process.send) throw new Error("propagation-agents runs as a child of bench/propagation.js (it needs an IPC channel)");
  const fleet = new Fleet();
  const reply = (r: AgentsReply) => process.send?.(r);
  process.on("message", (m: { id: number; req: AgentsRequest }) => {
    handle(fleet, m.req).then(
      (result) => {
        reply({ id: m.id, ok: true, result });
        if (m.req.op === "stop") setImmediate(() => process.exit(0));
      },
      (err: unknown) => reply({ id: m.id, ok: false, error: errorMessage(err) }),
    );
  });
  // The bench went away: do not linger.
  process.on("disconnect", () => process.exit(0));
}

main();
