// Runs `weft control` as a child process for the API benchmark, exactly as an operator would
// (node dist/cli/main.js control ...), on free local ports (the REST API, ops, and the cells' gRPC
// listener, whose default port is fixed) and a temporary data directory, and waits until its
// /health answers. stop() ends it (SIGTERM, then SIGKILL after a deadline) and
// removes the data directory; the caller owns the database.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../common/eventually.js";
import { packageRoot } from "../common/package-root.js";
import { HttpsClient } from "./api-http.js";

export interface ChildControl {
  readonly apiPort: number;
  readonly pid: number;
  readonly adminToken: string;
  readonly caPem: string;
  /** The last lines the child wrote, for error reports. */
  output(): string;
  stop(): Promise<void>;
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

async function stopChild(child: ChildProcess, deadlineMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  await exited;
  clearTimeout(timer);
}

export async function startChildControl(databaseUrl: string): Promise<ChildControl> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-bench-api-"));
  const [apiPort, opsPort, grpcPort] = [await freePort(), await freePort(), await freePort()];
  const main = join(packageRoot(), "dist", "cli", "main.js");
  if (!existsSync(main)) throw new Error(`${main} not found: run npm run build first`);
  // WEFT_BENCH_CONTROL_NODE_ARGS: extra node flags for the child, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.WEFT_BENCH_CONTROL_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child = spawn(
    process.execPath,
    [...nodeArgs, main, "control", "--database-url", databaseUrl, "--data-dir", dataDir, "--listen", `127.0.0.1:${apiPort}`, "--ops-listen", `127.0.0.1:${opsPort}`, "--grpc-listen", `127.0.0.1:${grpcPort}`, "--log-level", "warn"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const stop = async () => {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const tokenFile = join(dataDir, "admin.token");
    const caFile = join(dataDir, "api.crt");
    const { adminToken, caPem } = await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`weft control exited with ${child.exitCode}`);
        const caPem = readFileSync(caFile, "utf8");
        const adminToken = readFileSync(tokenFile, "utf8").trim();
        const probe = new HttpsClient(apiPort, caPem);
        try {
          const r = await probe.request("GET", "/health");
          if (r.status !== 200) throw new Error(`health ${r.status}`);
        } finally {
          probe.close();
        }
        return { adminToken, caPem };
      },
      { timeoutMs: 60_000, intervalMs: 100, message: "weft control did not become healthy" },
    );
    return { apiPort, pid: child.pid!, adminToken, caPem, output: () => lines.join("\n"), stop };
  } catch (err) {
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${lines.join("\n")}`, { cause: err });
  }
}
