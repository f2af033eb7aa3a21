// CPU accounting for the API benchmark. The machine is shared with other work, so a wall-clock
// rate alone says little: this samples the CPU time (user + system, from /proc) that each party
// spent during a phase, so the benchmark can print CPU milliseconds per request for the control
// process, for the PostgreSQL backends serving the benchmark's database, for PostgreSQL's shared
// background processes (WAL writer, checkpointer, ...; other databases' work lands there too), and
// for the load client itself.
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** utime + stime of a process in ms, or 0 when it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "postgres") pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

export interface CpuSample {
  readonly control: number;
  readonly backends: Map<number, number>;
  readonly pgOther: Map<number, number>;
  readonly client: number;
}

export interface CpuSpent {
  readonly controlMs: number;
  readonly pgBackendsMs: number;
  readonly pgSharedMs: number;
  readonly clientMs: number;
}

/** Samples the control process, this database's PostgreSQL backends and PostgreSQL's shared processes. */
export class CpuMeter {
  /** NOTIFYs seen on weft_changes: one per committed write batch (or other change). */
  notifications = 0;

  private constructor(
    private readonly admin: pg.Client,
    private readonly listener: pg.Client,
    private readonly controlPid: number,
    private readonly database: string,
  ) {
    listener.on("notification", () => this.notifications++);
  }

  static async open(adminUrl: string, databaseUrl: string, controlPid: number, database: string): Promise<CpuMeter> {
    const admin = new pg.Client({ connectionString: adminUrl, application_name: "weft-bench-cpu" });
    await admin.connect();
    const listener = new pg.Client({ connectionString: databaseUrl, application_name: "weft-bench-cpu" });
    await listener.connect();
    await listener.query("LISTEN weft_changes");
    return new CpuMeter(admin, listener, controlPid, database);
  }

  async sample(): Promise<CpuSample> {
    const res = await this.admin.query<{ pid: number; datname: string | null; backend_type: string }>(
      "SELECT pid, datname, backend_type FROM pg_stat_activity",
    );
    const listenerPid = (this.listener as unknown as { processID: number }).processID;
    const ours = new Set(
      res.rows.filter((r) => r.datname === this.database && r.backend_type === "client backend" && r.pid !== listenerPid).map((r) => r.pid),
    );
    // Shared: postmaster and the background processes, not other databases' client backends.
    const shared = new Set(res.rows.filter((r) => r.backend_type !== "client backend" && r.backend_type !== "autovacuum worker").map((r) => r.pid));
    const all = postgresPids();
    const postmaster = Math.min(...all);
    const backends = new Map<number, number>();
    const pgOther = new Map<number, number>();
    for (const pid of all) {
      if (ours.has(pid)) backends.set(pid, processCpuMs(pid));
      else if (shared.has(pid) || pid === postmaster) pgOther.set(pid, processCpuMs(pid));
    }
    const usage = process.cpuUsage();
    return { control: processCpuMs(this.controlPid), backends, pgOther, client: (usage.user + usage.system) / 1000 };
  }

  /** CPU spent between two samples. A backend seen only at the end counts from zero. */
  static spent(a: CpuSample, b: CpuSample): CpuSpent {
    const diff = (x: Map<number, number>, y: Map<number, number>) => [...y].reduce((sum, [pid, ms]) => sum + ms - (x.get(pid) ?? 0), 0);
    return { controlMs: b.control - a.control, pgBackendsMs: diff(a.backends, b.backends), pgSharedMs: diff(a.pgOther, b.pgOther), clientMs: b.client - a.client };
  }

  async close(): Promise<void> {
    await this.listener.end();
    await this.admin.end();
  }
}
