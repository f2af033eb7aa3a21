// The shape of the propagation benchmark's world, shared by the bench and its agents process: cell
// ids and underlay IPs, which apps run on which cells, and the IPC messages between the two
// processes. Pure; no I/O.
//
// Placement for a round of N cells: every cell runs one instance of a background app (bg-k on the
// cell pair 2k, 2k+1, with a policy bg-k -> bg-k+1, so every cell has some policies), and the
// round's 10 source and 10 destination service apps each run on the cells c < N with
// c % 40 == a (2.5% of the cells each). A measured policy src-a -> dst-b is therefore relevant to
// exactly 5% of the cells (6 of 100), and to no other cell.

export const SERVICE_APPS = 10;
export const SERVICE_STRIDE = 40;

export interface InstancePlan {
  readonly guid: string;
  readonly app: string;
  readonly index: number;
}

export interface CellPlan {
  readonly cellId: string;
  readonly underlayIp: string;
  readonly instances: InstancePlan[];
}

export const cellName = (i: number): string => `cell-${String(i).padStart(5, "0")}`;

/** Distinct fake underlay IPs in 100.64.0.0/10 (never .0 or .255). */
export function underlayIpOf(i: number): string {
  const block = Math.floor(i / 250);
  return `100.${64 + (block >> 8)}.${block & 255}.${(i % 250) + 1}`;
}

export const bgApp = (k: number): string => `bg-${k}`;
export const srcApp = (round: number, a: number): string => `svc-${round}-src-${a}`;
export const dstApp = (round: number, b: number): string => `svc-${round}-dst-${b}`;

/** The cells (indexes below n) that run service app slot `slot` (0..19) of a round of n cells. */
export function serviceCells(n: number, slot: number): number[] {
  const out: number[] = [];
  for (let c = slot; c < n; c += SERVICE_STRIDE) out.push(c);
  return out;
}

/** The n cells of a size, each with its background instance and, on 1 cell in 2, a service instance. */
export function cellsFor(n: number): CellPlan[] {
  const out: CellPlan[] = [];
  for (let i = 0; i < n; i++) out.push({ cellId: cellName(i), underlayIp: underlayIpOf(i), instances: [{ guid: `bg-${i}`, app: bgApp(i >> 1), index: i & 1 }] });
  for (let a = 0; a < SERVICE_APPS; a++) {
    for (const [slot, app] of [
      [a, srcApp(n, a)],
      [SERVICE_APPS + a, dstApp(n, a)],
    ] as const) {
      serviceCells(n, slot).forEach((c, index) => out[c]!.instances.push({ guid: `${app}-${index}`, app, index }));
    }
  }
  return out;
}

export interface MeasuredPolicy {
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  /** The cells that must enforce it: those running the source or the destination app. */
  readonly cells: string[];
}

/** The k-th measured policy of a round of n cells (each a new policy: a distinct port). */
export function measuredPolicy(n: number, k: number, basePort = 10_000): MeasuredPolicy {
  const a = k % SERVICE_APPS;
  const b = Math.floor(k / SERVICE_APPS) % SERVICE_APPS;
  const cells = [...serviceCells(n, a), ...serviceCells(n, SERVICE_APPS + b)].map(cellName);
  return { source: srcApp(n, a), destination: dstApp(n, b), port: basePort + k, cells };
}

export const policyKey = (source: string, destination: string, protocol: string, start: number, end: number): string =>
  `${source}|${destination}|${protocol}|${start}|${end}`;

// --- IPC between the bench and the agents process ---------------------------------------------

export type AgentsRequest =
  | { op: "init"; apiUrl: string; apiCaPem: string; adminToken: string }
  /** Join, lease and register every cell; no streams yet. */
  | { op: "prepare"; cells: CellPlan[]; concurrency: number }
  /** Open every prepared cell's Sync stream and wait for each snapshot. */
  | { op: "sync"; concurrency: number }
  /** Resolves when each cell has applied a revision >= `revision` (and holds `policyKey`). */
  | { op: "await"; revision: number; cells: string[]; policyKey: string; timeoutMs: number }
  /** A spare cell acquires (or releases) a lease; resolves when every syncing cell applied that change. */
  | { op: "lease"; action: "acquire" | "release"; underlayIp: string; timeoutMs: number }
  | { op: "stats" }
  | { op: "stop" };

export interface PrepareResult {
  readonly ms: number;
  readonly failed: number;
  readonly firstError: string | null;
  /** Mean time per cell in each stage (concurrent, so they overlap). */
  readonly stageMs: { readonly join: number; readonly lease: number; readonly register: number };
}

export interface AwaitResult {
  /** Per relevant cell, when it applied the revision (ms since the epoch, fractional). */
  readonly times: number[];
  readonly missing: string[];
  /** Relevant cells that reached the revision without the policy. */
  readonly withoutPolicy: number;
  /** Cells outside the relevant set that hold the policy (must be 0). */
  readonly extraneous: number;
}

export interface LeaseResult {
  readonly t0: number;
  readonly subnet: string;
  readonly times: number[];
  readonly missing: number;
}

export interface AgentsStats {
  readonly cells: number;
  readonly syncing: number;
  readonly snapshots: number;
  readonly deltas: number;
  readonly reconnects: number;
  /** Setup steps retried after a transport error. */
  readonly retries: number;
  readonly rssKb: number;
}

export type AgentsReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** Wall clock with sub-millisecond resolution, comparable across processes on one machine. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
