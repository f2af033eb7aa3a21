// Feeds the container set from the channel directory: one full scan at start, then an inotify
// watch on containers/ (fs.watch), where every event names the file that changed. The agent
// writes by rename, so each event is a whole file. A scan can also be asked for (SIGHUP), e.g.
// after an operator repaired the directory by hand. A watcher error is reported through health
// and the watch is re-established with a fresh scan, so no change is lost.
import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import type { Logger } from "../common/logger.js";
import { channelPaths, guidOfFileName } from "../common/sidecar-contract.js";

export interface ContainerWatchOptions {
  readonly channelDir: string;
  /** Only this container (per-container mode); undefined = all. */
  readonly only?: string;
  readonly sync: (guid: string) => Promise<void>;
  readonly logger: Logger;
}

export class ContainerWatch {
  private watcher: FSWatcher | undefined;
  private lastError: string | undefined;
  private closed = false;
  private readonly dir: string;

  constructor(private readonly opts: ContainerWatchOptions) {
    this.dir = channelPaths(opts.channelDir).containers;
  }

  private sync(guid: string): Promise<void> {
    return this.opts.sync(guid).catch((err: unknown) => this.opts.logger.error({ err, instance: guid }, "container-sync-failed"));
  }

  /** Starts watching, then applies every file present. Resolves when that first pass is done. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(channelPaths(this.opts.channelDir).status, { recursive: true, mode: 0o755 });
    this.watcher = watch(this.dir, (_event, name) => {
      const guid = name === null ? undefined : guidOfFileName(name);
      if (guid !== undefined && (this.opts.only === undefined || guid === this.opts.only)) void this.sync(guid);
    });
    this.watcher.on("error", (err) => {
      this.lastError = err.message;
      this.opts.logger.error({ err, dir: this.dir }, "watch-failed");
      this.watcher?.close();
      if (!this.closed) {
        setTimeout(() => void this.start().then(() => (this.lastError = undefined), (e: unknown) => this.opts.logger.error({ err: e }, "watch-restart-failed")), 1_000).unref();
      }
    });
    await this.scan();
  }

  /** Re-reads every file (and notices files that are gone). */
  async scan(known: Iterable<string> = []): Promise<void> {
    const names = await readdir(this.dir);
    const guids = new Set(names.map(guidOfFileName).filter((g): g is string => g !== undefined));
    for (const g of known) guids.add(g);
    const wanted = [...guids].filter((g) => this.opts.only === undefined || g === this.opts.only);
    if (this.opts.only !== undefined && !wanted.includes(this.opts.only)) wanted.push(this.opts.only);
    await Promise.all(wanted.map((g) => this.sync(g)));
  }

  get healthy(): { ok: boolean; detail?: string } {
    return this.lastError === undefined ? { ok: true } : { ok: false, detail: this.lastError };
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
  }
}
