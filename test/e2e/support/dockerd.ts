// A private Docker engine for the real-container scenario: dockerd (Debian's docker.io) with its own
// data root, exec root and socket in a temp dir, started so that it leaves the machine's network
// alone (no bridge, no iptables, no forwarding or masquerade changes), and stopped afterwards.
// Containers then get their network only from weft-cni, as under any CNI runtime.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../common/eventually.js";
import { execIn } from "./mesh.js";

export interface Dockerd {
  readonly socket: string;
  /** DOCKER_HOST for clients (testcontainers, the docker CLI). */
  readonly host: string;
  readonly dir: string;
  /** GET on the engine API; parsed JSON. */
  get(path: string): Promise<unknown>;
  stop(): Promise<void>;
}

export type DockerdStart = { readonly ok: true; readonly engine: Dockerd } | { readonly ok: false; readonly reason: string };

function apiGet(socket: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: "GET", timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Starts dockerd, or says why it cannot run here (the only reason the scenario may skip). */
export async function startDockerd(): Promise<DockerdStart> {
  const which = await execIn(undefined, ["sh", "-c", "command -v dockerd"]);
  if (which.code !== 0) return { ok: false, reason: "dockerd is not installed (Debian package docker.io)" };
  const dir = mkdtempSync(join(tmpdir(), "weft-dockerd-"));
  for (const d of ["data", "exec"]) mkdirSync(join(dir, d));
  const socket = join(dir, "docker.sock");
  let log = "";
  const child: ChildProcess = spawn(
    which.stdout.trim(),
    [
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "exec"),
      "--pidfile", join(dir, "docker.pid"),
      "--host", `unix://${socket}`,
      // Leave the machine's own network alone: no docker0, no iptables rules, no sysctl changes.
      "--bridge=none",
      "--iptables=false",
      "--ip-forward=false",
      "--ip-masq=false",
    ],
    { stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  const keep = (b: Buffer) => (log = (log + b.toString("utf8")).slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (err) => keep(Buffer.from(`spawn error: ${err.message}`)));

  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // gone
        }
      }, 20_000);
      await exited;
      clearTimeout(timer);
    }
    // Anything left mounted under our data root (a crashed engine) goes before the files do.
    const mounts = readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(dir))
      .sort((x, y) => y.length - x.length);
    for (const m of mounts) await execIn(undefined, ["umount", "-l", m]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`dockerd exited (${child.exitCode ?? child.signalCode})`);
        const r = await apiGet(socket, "/_ping");
        if (r.status !== 200) throw new Error(`ping: ${r.status}`);
      },
      { timeoutMs: 30_000, intervalMs: 100, message: "dockerd answering" },
    );
  } catch (err) {
    await stop();
    return { ok: false, reason: `dockerd could not start: ${err instanceof Error ? err.message : String(err)}; log: ${log.slice(-1500)}` };
  }
  return {
    ok: true,
    engine: {
      socket,
      host: `unix://${socket}`,
      dir,
      async get(path) {
        const r = await apiGet(socket, path);
        if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body}`);
        return JSON.parse(r.body) as unknown;
      },
      stop,
    },
  };
}
