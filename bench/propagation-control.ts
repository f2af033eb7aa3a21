// The control side of the propagation benchmark: a fresh PostgreSQL database, `weft control` as a
// child process on free loopback ports (optionally with --cpu-prof), its health, admin token and
// API CA, its memory (VmRSS from /proc, V8 heap from its /metrics) and CPU time, and a teardown
// that always kills the process and drops the database. Also the machine-wide CPU counters used to
// say how noisy a run was.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, readFileSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import pg from "pg";

export const PG_ADMIN_URL = process.env.WEFT_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres";

export interface BenchDatabase {
  readonly url: string;
  /** PostgreSQL backend processes serving this database (to count their CPU as ours). */
  backendPids(): Promise<number[]>;
  drop(): Promise<void>;
}

async function adminQuery(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

export async function createBenchDatabase(): Promise<BenchDatabase> {
  const name = `weft_bench_${randomBytes(6).toString("hex")}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    backendPids: async () => (await adminQuery("SELECT pid FROM pg_stat_activity WHERE datname = $1", [name])).map((r) => Number(r.pid)),
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export interface ControlOptions {
  readonly cliPath: string;
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly overlayNetwork: string;
  readonly subnetPrefix: number;
  readonly logFile: string;
  /** Directory for a V8 CPU profile of control (written when it exits on SIGTERM). */
  readonly cpuProfDir?: string;
}

export interface ControlProcess {
  readonly pid: number;
  readonly apiUrl: string;
  readonly apiCaPem: string;
  readonly adminToken: string;
  rssKb(): number;
  heapUsedBytes(): Promise<number | null>;
  cpuTicks(): number;
  stop(): Promise<void>;
}

/** VmRSS of a process in KB. */
export function rssKbOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/** utime + stime of a process (all threads), in clock ticks. */
export function cpuTicksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Machine-wide busy and total CPU ticks from /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

export async function startControlProcess(opts: ControlOptions): Promise<ControlProcess> {
  const [api, ops, grpc] = [await freePort(), await freePort(), await freePort()];
  const nodeArgs = opts.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", opts.cpuProfDir] : [];
  const args = [
    ...nodeArgs,
    opts.cliPath,
    "control",
    "--database-url", opts.databaseUrl,
    "--data-dir", opts.dataDir,
    "--listen", `127.0.0.1:${api}`,
    "--ops-listen", `127.0.0.1:${ops}`,
    "--grpc-listen", `127.0.0.1:${grpc}`,
    "--overlay-network", opts.overlayNetwork,
    "--subnet-prefix", String(opts.subnetPrefix),
    "--log-level", "warn",
  ];
  const log = createWriteStream(opts.logFile);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const status: { exited: string | null } = { exited: null };
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      status.exited = `exited (${signal ?? code})`;
      resolve();
    }),
  );
  const pid = child.pid!;
  const stop = async (): Promise<void> => {
    if (status.exited === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exit;
      clearTimeout(killer);
    }
    log.end();
  };

  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (status.exited !== null) throw new Error(`weft control ${status.exited} before it was healthy; see ${opts.logFile}`);
      const health = await httpGet(`http://127.0.0.1:${ops}/health`).catch(() => null);
      if (health?.status === 200) break;
      if (Date.now() > deadline) throw new Error(`weft control not healthy within 60 s; see ${opts.logFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    pid,
    apiUrl: `https://127.0.0.1:${api}`,
    apiCaPem: readFileSync(join(opts.dataDir, "api.crt"), "utf8"),
    adminToken: readFileSync(join(opts.dataDir, "admin.token"), "utf8").trim(),
    rssKb: () => rssKbOf(pid),
    async heapUsedBytes() {
      const res = await httpGet(`http://127.0.0.1:${ops}/metrics`).catch(() => null);
      const m = res && /^weft_nodejs_heap_size_used_bytes\S*\s+([\d.e+]+)/m.exec(res.text);
      return m ? Number(m[1]) : null;
    },
    cpuTicks: () => cpuTicksOf(pid),
    stop,
  };
}
