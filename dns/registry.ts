// The in-memory registry DNS answers from: internal routes mapped to their instances, plus the
// answers derived from them, pre-encoded.
//
// It is fed by the control plane's registry stream (ARCHITECTURE section 4): a snapshot, then
// deltas, each stamped with the global revision. A snapshot replaces everything. In a delta each
// route replaces that host's whole instance set and removedHosts are deleted. apply() is
// synchronous and the next lookup sees its result, so a change is visible in answers at once.
//
// From a host "backend.apps.internal" with instances at indexes 0 and 1 it derives three names:
// the host itself (all instances) and "0.backend..." and "1.backend..." (the instances with that
// index; two during an evacuation, as in CF, where both register the same index name). A route
// whose host literally is "1.backend..." takes precedence over the derived name. Only the names a
// change touches are re-encoded.
//
// Until the first snapshot the registry is not ready and the server answers internal names with
// SERVFAIL (CF: the discovery controller is "not warm"). Deltas before it, and deltas whose
// revision is not newer than the current one, are ignored. A snapshot always applies, even with an
// older revision, since it is the control plane's whole current view (a restored database may
// legitimately go back).
import { WeftError } from "../common/errors.js";
import { silentLogger, type Logger } from "../common/logger.js";
import { encodeAnswerSet, answerAddresses } from "./answer-set.js";
import { NameTable } from "./name-table.js";
import { ipv4ToInt, nameToWire, normalizeName } from "./wire.js";

export interface RegistryInstance { instanceGuid: string; index: number; ip: string }
/** host like "backend.apps.internal", any case. */
export interface RegistryRoute { host: string; instances: RegistryInstance[] }
/** snapshot=true replaces everything; otherwise each route in `routes` replaces that host's full
 * instance set, and removedHosts are deleted. */
export interface RegistryUpdate { revision: number; snapshot: boolean; routes: RegistryRoute[]; removedHosts: string[] }

export type RegistryApplyResult =
  | { readonly kind: "applied"; readonly revision: number; readonly routes: number; readonly changedNames: number; readonly skipped: number }
  | { readonly kind: "ignored"; readonly reason: "delta-before-snapshot" | "stale-revision" | "invalid-revision" };

interface Instance {
  readonly index: number;
  readonly ip: number;
}

const INDEX_LABEL = /^(0|[1-9][0-9]*)$/;

function unique(values: Iterable<number>): number[] {
  return [...new Set(values)];
}

export class DnsRegistry {
  private hosts = new Map<string, readonly Instance[]>();
  private answers = new NameTable();
  private currentRevision = 0;
  private isReady = false;
  private readonly ttlSeconds: number;
  private readonly log: Logger;

  constructor(opts: { ttlSeconds: number; logger?: Logger }) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 0 || opts.ttlSeconds > 0x7fffffff) {
      throw new WeftError("INVALID_ARGUMENT", `ttlSeconds must be an integer in 0..2147483647, got ${opts.ttlSeconds}`);
    }
    this.ttlSeconds = opts.ttlSeconds;
    this.log = opts.logger ?? silentLogger;
  }

  /** True once the first snapshot has been applied. */
  get ready(): boolean {
    return this.isReady;
  }

  get revision(): number {
    return this.currentRevision;
  }

  /** Number of routes (hosts) known. */
  get routeCount(): number {
    return this.hosts.size;
  }

  /** Number of names with at least one address (hosts plus index names). */
  get nameCount(): number {
    return this.answers.size;
  }

  /**
   * The hot-path lookup of the name msg[start, end) (wire form, any case), hashWire'd to `hash` by
   * the parser: the offset in `answerArena` of its record count and records, or -1.
   */
  lookup(msg: Buffer, start: number, end: number, hash: number): number {
    return this.answers.lookup(msg, start, end, hash);
  }

  /** Where lookup()'s offsets point; read it after lookup(), which may rebuild it. */
  get answerArena(): Buffer {
    return this.answers.arena;
  }

  /** The addresses a name resolves to, in stored order; [] when it has none. For tests and debugging. */
  addresses(name: string): string[] {
    const n = normalizeName(name);
    const set = n === undefined ? undefined : this.answers.get(nameToWire(n));
    return set ? answerAddresses(set) : [];
  }

  apply(update: RegistryUpdate): RegistryApplyResult {
    if (!Number.isSafeInteger(update.revision) || update.revision < 0) return { kind: "ignored", reason: "invalid-revision" };
    if (!update.snapshot) {
      if (!this.isReady) return { kind: "ignored", reason: "delta-before-snapshot" };
      if (update.revision <= this.currentRevision) return { kind: "ignored", reason: "stale-revision" };
    }
    const skipped: string[] = [];
    const routes = new Map<string, readonly Instance[]>();
    for (const route of update.routes) {
      const host = normalizeName(route.host);
      if (host === undefined) {
        skipped.push(route.host);
        continue;
      }
      routes.set(host, this.instancesOf(host, route.instances, skipped));
    }

    let changedNames: number;
    if (update.snapshot) {
      changedNames = this.replaceAll(routes);
    } else {
      const touched = new Set<string>();
      for (const removed of update.removedHosts) {
        const host = normalizeName(removed);
        const old = host === undefined ? undefined : this.hosts.get(host);
        if (host === undefined || old === undefined) continue;
        for (const name of this.namesOf(host, old)) touched.add(name);
        this.hosts.delete(host);
      }
      for (const [host, instances] of routes) {
        for (const name of this.namesOf(host, this.hosts.get(host) ?? [])) touched.add(name);
        for (const name of this.namesOf(host, instances)) touched.add(name);
        this.hosts.set(host, instances);
      }
      for (const name of touched) this.encodeName(this.answers, name);
      changedNames = touched.size;
    }

    this.currentRevision = update.revision;
    const wasReady = this.isReady;
    this.isReady = true;
    if (skipped.length) this.log.warn({ revision: update.revision, skipped: skipped.length, examples: skipped.slice(0, 5) }, "registry-entries-skipped");
    const fields = { revision: update.revision, snapshot: update.snapshot, routes: this.hosts.size, names: this.answers.size, changedNames };
    if (update.snapshot) this.log.info({ ...fields, first: !wasReady }, "registry-snapshot-applied");
    else this.log.debug(fields, "registry-delta-applied");
    return { kind: "applied", revision: update.revision, routes: this.hosts.size, changedNames, skipped: skipped.length };
  }

  private instancesOf(host: string, instances: readonly RegistryInstance[], skipped: string[]): Instance[] {
    const out: Instance[] = [];
    for (const inst of instances) {
      const ip = typeof inst.ip === "string" ? ipv4ToInt(inst.ip) : undefined;
      if (ip === undefined || !Number.isSafeInteger(inst.index) || inst.index < 0) {
        skipped.push(`${host}[${String(inst.index)}]=${String(inst.ip)}`);
        continue;
      }
      out.push({ index: inst.index, ip });
    }
    return out;
  }

  /** Swaps in a freshly built answer table; returns how many names it holds. */
  private replaceAll(routes: Map<string, readonly Instance[]>): number {
    this.hosts = routes;
    const answers = new NameTable();
    for (const [host, instances] of routes) for (const name of this.namesOf(host, instances)) this.encodeName(answers, name);
    this.answers = answers;
    return answers.size;
  }

  /** The names a host's instances give rise to: the host and one per distinct index. */
  private namesOf(host: string, instances: readonly Instance[]): string[] {
    return [host, ...unique(instances.map((i) => i.index)).map((index) => `${index}.${host}`)];
  }

  /** What a name resolves to now: a route of that exact name, else an index of a route below it. */
  private resolve(name: string): number[] {
    const direct = this.hosts.get(name);
    if (direct) return unique(direct.map((i) => i.ip));
    const dot = name.indexOf(".");
    const label = name.slice(0, dot);
    if (dot <= 0 || !INDEX_LABEL.test(label)) return [];
    const parent = this.hosts.get(name.slice(dot + 1));
    if (!parent) return [];
    const index = Number(label);
    return unique(parent.filter((i) => i.index === index).map((i) => i.ip));
  }

  private encodeName(answers: NameTable, name: string): void {
    const ips = this.resolve(name);
    const key = nameToWire(name);
    if (ips.length === 0) answers.delete(key);
    else answers.set(key, encodeAnswerSet(ips, this.ttlSeconds));
  }
}
