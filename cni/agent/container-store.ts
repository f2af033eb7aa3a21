// The containers of this cell as the agent knows them from CNI ADD, one JSON file each in the state
// directory, so an agent restarted on a live cell takes over what it had (and GC can compare it
// with what the runtime lists). Files are written whole and renamed into place.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { AppMetadata, PortMapping } from "../spec/cni-request.js";

export interface ContainerRecord {
  readonly containerId: string;
  readonly ifname: string;
  readonly netns: string;
  readonly ip: string;
  readonly metadata: AppMetadata;
  readonly portMappings: readonly PortMapping[];
  /** The revision control returned when it registered the container. */
  readonly registeredRevision: number;
}

const FILE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*@[^/]+\.json$/;

export class ContainerStore {
  private readonly dir: string;
  private readonly byKey = new Map<string, ContainerRecord>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, "containers");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir)) {
      if (!FILE.test(f)) continue;
      try {
        const rec = JSON.parse(readFileSync(join(this.dir, f), "utf8")) as ContainerRecord;
        this.byKey.set(this.key(rec.containerId, rec.ifname), rec);
      } catch {
        // A torn file cannot happen (rename); anything else unreadable is ignored and GC'd later.
      }
    }
  }

  private key(containerId: string, ifname: string): string {
    return `${containerId}@${ifname}`;
  }

  get(containerId: string, ifname: string): ContainerRecord | undefined {
    return this.byKey.get(this.key(containerId, ifname));
  }

  all(): ContainerRecord[] {
    return [...this.byKey.values()];
  }

  put(rec: ContainerRecord): void {
    const k = this.key(rec.containerId, rec.ifname);
    const file = join(this.dir, `${k}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(rec), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.byKey.set(k, rec);
  }

  remove(containerId: string, ifname: string): ContainerRecord | undefined {
    const k = this.key(containerId, ifname);
    const rec = this.byKey.get(k);
    rmSync(join(this.dir, `${k}.json`), { force: true });
    this.byKey.delete(k);
    return rec;
  }
}
