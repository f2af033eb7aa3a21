// A whole Weft mesh on one machine, made of the real processes: `weft control` on the embedded store
// (on the machine's loopback), an underlay (a namespace with a bridge), cells (namespaces on the
// underlay, each running its own `weft agent`, `weft dns` and shared `weft sidecar`), and containers
// (namespaces attached by the real weft-cni binary, invoked as a container runtime does). This is
// what `weft up` runs, and what end-to-end tests can reuse:
//
//   const mesh = await startMesh({ stateDir, prefix: "wt1234", underlay: "10.212.0.0/24", apiPort });
//   const a = await mesh.attach(mesh.cells[0], { appGuid, appName: "a", space, org, index: 0 });
//   await mesh.startHttpApp(a);  ...  await mesh.stop();
//
// Layout (every name starts with the prefix; nothing is made in the machine's own namespace):
//   PREFIX-u        the underlay: bridge br0, one veth port per cell
//   PREFIX-cell-N   a cell: eth0 = UNDERLAY.(10+N) on the underlay; its agent, DNS server and
//                   sidecar run inside it; control's ports are bridged to its 127.0.0.1
//   PREFIX-<name>   a container, attached by weft-cni ADD; its resolv.conf (from the CNI result) is
//                   /etc/netns/PREFIX-<name>/resolv.conf, so `ip netns exec` resolves like the app
// Processes log to STATE_DIR/logs/*.log. Everything made is recorded in STATE_DIR/state.json before
// it is made, so teardown() (`weft down`) removes it even after a crash.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { eventually } from "../../common/eventually.js";
import { packageRoot } from "../../common/package-root.js";
import { ApiClient } from "../api-client.js";
import type { StatusJson } from "../wait-enforced.js";
import { APP_SERVER } from "./app-server.js";
import { seedEmbeddedStore } from "./store-template.js";
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, newState, processStartTime, saveState, type UpState } from "./state.js";
import { teardown } from "./teardown.js";

const execFileP = promisify(execFile);

export interface MeshOptions {
  /** Where state, control's data and logs go (default .weft/up). */
  readonly stateDir?: string;
  /** Namespace name prefix (default "weft"); tests use a unique `wt...` one. */
  readonly prefix?: string;
  /** The underlay subnet, a /24 (default 10.250.0.0/24); cells get .11, .12, ... */
  readonly underlay?: string;
  readonly cells?: number;
  /** Control's REST API port on 127.0.0.1 (default 4002; 0 picks a free one); gRPC takes a free port. */
  readonly apiPort?: number;
  readonly overlayNetwork?: string;
  /** Run control on this PostgreSQL database instead of the embedded store. */
  readonly databaseUrl?: string;
  /** Progress lines while starting. */
  readonly progress?: (line: string) => void;
}

export interface MeshCell {
  readonly id: string;
  readonly ns: string;
  readonly nsPath: string;
  readonly underlayIp: string;
  readonly dir: string;
  readonly socketPath: string;
  readonly sidecarDir: string;
  readonly credentialsDir: string;
}

export interface ContainerSpec {
  readonly appGuid: string;
  readonly appName: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
  readonly index: number;
  /** Default `${appName}-${index}`. */
  readonly instanceGuid?: string;
  readonly ports?: readonly number[];
}

export interface MeshContainer {
  readonly spec: ContainerSpec;
  readonly instanceGuid: string;
  readonly cell: MeshCell;
  readonly ns: string;
  readonly nsPath: string;
  readonly ip: string;
  /** The platform CA bundle the container's app trusts (instances/<guid>/ca.crt). */
  readonly caFile: string;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Mesh {
  readonly stateDir: string;
  readonly prefix: string;
  readonly state: UpState;
  readonly apiUrl: string;
  readonly grpcPort: number;
  readonly controlDataDir: string;
  readonly adminToken: string;
  /** An admin API client (the CLI's). */
  readonly client: ApiClient;
  readonly cells: readonly MeshCell[];
  /** Runs weft-cni ADD for a new container namespace on `cell`, as a runtime would. */
  attach(cell: MeshCell, spec: ContainerSpec): Promise<MeshContainer>;
  /** Runs weft-cni DEL for a container and removes its namespace. */
  detach(container: MeshContainer): Promise<void>;
  /** Starts the example HTTP app (0.0.0.0:8080) in a container and waits until it listens. */
  startHttpApp(container: MeshContainer): Promise<void>;
  /** Runs a command in a namespace with `ip netns exec` (so the container's resolv.conf applies). */
  exec(ns: string, argv: readonly string[], opts?: { input?: string; timeoutMs?: number }): Promise<ExecResult>;
  /** Starts a long-running process (logged to logs/NAME.log, recorded for teardown). */
  spawnLogged(name: string, argv: readonly string[], opts?: { netns?: string; env?: NodeJS.ProcessEnv }): number;
  /** Stops control (SIGTERM); cells keep enforcing what they have (fail static). */
  stopControl(): Promise<void>;
  /** Starts control again with the same configuration and waits until its API answers. */
  startControl(): Promise<void>;
  /** Removes everything (same as `weft down`). */
  stop(): Promise<void>;
}

export const WEFT_BIN = () => join(packageRoot(), "bin", "weft.js");
export const WEFT_CNI = () => join(packageRoot(), "dist", "bin", "weft-cni");

/** Tools the mesh runs, and the Debian package of each. */
export const REQUIRED_TOOLS: readonly { tool: string; pkg: string }[] = [
  { tool: "ip", pkg: "iproute2" },
  { tool: "bridge", pkg: "iproute2" },
  { tool: "nft", pkg: "nftables" },
  { tool: "conntrack", pkg: "conntrack" },
  { tool: "sysctl", pkg: "procps" },
  { tool: "nsenter", pkg: "util-linux" },
];

export async function missingTools(): Promise<{ tool: string; pkg: string }[]> {
  const missing: { tool: string; pkg: string }[] = [];
  for (const t of REQUIRED_TOOLS) {
    const found = await execFileP("sh", ["-c", `command -v ${t.tool}`], { env: { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` } }).then(
      () => true,
      () => false,
    );
    if (!found) missing.push(t);
  }
  return missing;
}

async function freeLoopbackPort(port = 0): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? new Error(`port ${port} on 127.0.0.1 is in use (another weft control?); choose another with --api-port`) : err),
    );
    s.listen(port, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolvePort(p));
    });
  });
}

function underlayBase(cidr: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(cidr);
  if (!m || [m[1], m[2], m[3]].some((o) => Number(o) > 255)) throw new Error(`--underlay must be a /24 like 10.250.0.0/24, got ${JSON.stringify(cidr)}`);
  return `${m[1]}.${m[2]}.${m[3]}`;
}

const PREFIX_RE = /^[a-z][a-z0-9]{1,15}$/;

export async function startMesh(opts: MeshOptions = {}): Promise<Mesh> {
  const stateDir = resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_RE.test(prefix)) throw new Error(`--prefix must be 2-16 lower-case letters and digits, starting with a letter; got ${JSON.stringify(prefix)}`);
  const net = underlayBase(opts.underlay ?? "10.250.0.0/24");
  const cellCount = opts.cells ?? 2;
  if (!Number.isInteger(cellCount) || cellCount < 1 || cellCount > 50) throw new Error(`--cells must be 1-50, got ${cellCount}`);
  const progress = opts.progress ?? (() => undefined);
  if (process.getuid?.() !== 0) throw new Error("weft up needs root (network namespaces, veth, nftables)");
  const missing = await missingTools();
  if (missing.length > 0) {
    throw new Error(`missing tools: ${missing.map((m) => m.tool).join(", ")}; install the Debian packages: apt-get install -y ${[...new Set(missing.map((m) => m.pkg))].join(" ")}`);
  }
  if (!existsSync(WEFT_CNI())) throw new Error(`${WEFT_CNI()} is not built; run npm run build (npm ci does it)`);

  // Leftovers of an earlier mesh in this state dir (or with this prefix) go first.
  const left = await teardown(stateDir, prefix);
  if (left.namespaces.length > 0 || left.killed > 0) progress(`removed leftovers of an earlier run: ${left.namespaces.length} namespaces, ${left.killed} processes`);

  const apiPort = await freeLoopbackPort(opts.apiPort ?? 4002);
  const grpcPort = await freeLoopbackPort(0);
  const logsDir = join(stateDir, "logs");
  const runDir = join(stateDir, "run");
  const controlDataDir = join(stateDir, "control");
  for (const d of [logsDir, runDir, controlDataDir]) mkdirSync(d, { recursive: true });
  const state = newState(stateDir, prefix);
  saveState(state);

  const nsPath = (name: string) => `/var/run/netns/${name}`;
  const addNamespace = async (name: string) => {
    state.namespaces.push(name);
    saveState(state);
    await execFileP("ip", ["netns", "add", name]);
    await execFileP("ip", ["-n", name, "link", "set", "lo", "up"]);
  };

  const spawnLogged: Mesh["spawnLogged"] = (name, argv, o = {}) => {
    const fd = openSync(join(logsDir, `${name}.log`), "a");
    const full = o.netns ? ["nsenter", `--net=${o.netns}`, "--", ...argv] : [...argv];
    const child = spawn(full[0]!, full.slice(1), { detached: true, stdio: ["ignore", fd, fd], env: o.env ?? process.env });
    closeSync(fd);
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start ${name}`);
    // nsenter execs the command in place, so this pid is the process itself.
    state.processes.push({ name, pid, startTime: processStartTime(pid) ?? "" });
    saveState(state);
    return pid;
  };
  const weft = (args: readonly string[]) => [process.execPath, WEFT_BIN(), ...args];
  const logTail = (name: string) => {
    try {
      return readFileSync(join(logsDir, `${name}.log`), "utf8").trim().split("\n").slice(-5).join("\n");
    } catch {
      return "";
    }
  };
  const waitFor = async <T>(what: string, logName: string, pid: number | undefined, fn: () => T | Promise<T>, timeoutMs: number): Promise<T> =>
    eventually(
      async () => {
        if (pid !== undefined && processStartTime(pid) === undefined) throw new Error(`${logName} exited; see ${join(logsDir, `${logName}.log`)}:\n${logTail(logName)}`);
        return fn();
      },
      { timeoutMs, intervalMs: 100, message: what },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n(logs: ${join(logsDir, `${logName}.log`)})`);
    });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await teardown(stateDir, prefix);
  };

  try {
    // The underlay and the cells' namespaces.
    const underlay = `${prefix}-u`;
    await addNamespace(underlay);
    await execFileP("ip", ["-n", underlay, "link", "add", "br0", "type", "bridge"]);
    await execFileP("ip", ["-n", underlay, "link", "set", "br0", "up"]);
    const cells: MeshCell[] = [];
    for (let n = 1; n <= cellCount; n++) {
      const ns = `${prefix}-cell-${n}`;
      await addNamespace(ns);
      // Made inside the cell's namespace, the peer moved straight into the underlay's.
      await execFileP("ip", ["-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", `c${n}`, "netns", underlay]);
      await execFileP("ip", ["-n", underlay, "link", "set", `c${n}`, "master", "br0", "up"]);
      const underlayIp = `${net}.${10 + n}`;
      await execFileP("ip", ["-n", ns, "addr", "add", `${underlayIp}/24`, "dev", "eth0"]);
      await execFileP("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      const dir = join(stateDir, "cells", `cell-${n}`);
      mkdirSync(dir, { recursive: true });
      cells.push({
        id: `cell-${n}`,
        ns,
        nsPath: nsPath(ns),
        underlayIp,
        dir,
        socketPath: join(dir, "agent.sock"),
        sidecarDir: join(dir, "sidecar"),
        credentialsDir: join(dir, "agent", "cell"),
      });
    }
    progress(`underlay ${underlay} (${net}.0/24) and ${cellCount} cell namespaces`);

    // Control on the loopback, on the embedded store (seeded from an empty template when there is
    // one), or on PostgreSQL when a database URL is given.
    const t0 = Date.now();
    const seeded = opts.databaseUrl ? { copied: true } : await seedEmbeddedStore(join(controlDataDir, "store"));
    const apiUrl = `https://127.0.0.1:${apiPort}`;
    const controlArgs = weft([
      "control",
      "--listen", `127.0.0.1:${apiPort}`,
      "--grpc-listen", `127.0.0.1:${grpcPort}`,
      "--ops-listen", "127.0.0.1:0",
      "--data-dir", controlDataDir,
      "--overlay-network", opts.overlayNetwork ?? "10.255.0.0/16",
      ...(opts.databaseUrl ? ["--database-url", opts.databaseUrl] : []),
    ]);
    const controlAnswers = (pid: number) =>
      waitFor("control to answer", "control", pid, async () => {
        const token = readFileSync(join(controlDataDir, "admin.token"), "utf8").trim();
        const c = new ApiClient({ baseUrl: apiUrl, token, caPem: readFileSync(join(controlDataDir, "api.crt"), "utf8"), timeoutMs: 5000 });
        await c.call("GET", "/weft/v1/status");
        return c;
      }, 90_000);
    let controlPid = spawnLogged("control", controlArgs);
    const client = await controlAnswers(controlPid);
    const adminToken = readFileSync(join(controlDataDir, "admin.token"), "utf8").trim();
    state.apiUrl = apiUrl;
    state.controlDataDir = controlDataDir;
    saveState(state);
    progress(`control on ${apiUrl} (embedded store in ${controlDataDir}${seeded.copied ? "" : ", first initdb"}) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    // Control's ports inside every cell.
    const readyFile = join(runDir, "bridge.ready");
    const bridgePid = spawnLogged(
      "bridge",
      weft(["up-bridge", ...cells.flatMap((c) => ["--netns", c.nsPath]), "--port", String(apiPort), "--port", String(grpcPort), "--ready-file", readyFile]),
    );
    await waitFor("the port bridge", "bridge", bridgePid, () => {
      if (!existsSync(readyFile)) throw new Error("not ready");
    }, 30_000);

    // Each cell: its sidecar, its agent (joins with a one-time token), then its DNS server.
    const t1 = Date.now();
    await Promise.all(
      cells.map(async (cell) => {
        const sidecarPid = spawnLogged(`${cell.id}-sidecar`, weft(["sidecar", "--channel-dir", cell.sidecarDir]), { netns: cell.nsPath });
        const join_ = (await client.call<{ token: string }>("POST", "/weft/v1/join-tokens", { ttl: "10m", cell_id: cell.id })).body.token;
        const agentPid = spawnLogged(
          `${cell.id}-agent`,
          weft([
            "agent",
            "--cell-id", cell.id,
            "--underlay-ip", cell.underlayIp,
            "--underlay-dev", "eth0",
            "--state-dir", join(cell.dir, "agent"),
            "--socket", cell.socketPath,
            "--api", apiUrl,
            "--api-ca", join(controlDataDir, "api.crt"),
            "--join-token", join_,
            "--sidecar-dir", cell.sidecarDir,
            "--wait-for-sidecar",
          ]),
          { netns: cell.nsPath },
        );
        await waitFor(`${cell.id}'s agent to be ready (CNI STATUS)`, `${cell.id}-agent`, agentPid, async () => {
          if (processStartTime(sidecarPid) === undefined) throw new Error(`the sidecar exited:\n${logTail(`${cell.id}-sidecar`)}`);
          const res = await runCni("STATUS", { socketPath: cell.socketPath, containerId: "", config: { cniVersion: "1.1.0" } });
          if (res.code !== 0) throw new Error(res.stdout.trim() || `exit ${res.code}`);
        }, 60_000);
        const dnsPid = spawnLogged(`${cell.id}-dns`, weft(["dns", "--listen", "169.254.0.2:53", "--cell-dir", cell.credentialsDir]), { netns: cell.nsPath });
        await waitFor(`${cell.id}'s DNS server to have the registry`, `${cell.id}-dns`, dnsPid, async () => {
          const r = await nsExec(cell.nsPath, [process.execPath, "-e", DNS_READY], 5000);
          if (r.stdout.trim() !== "ready") throw new Error(r.stdout.trim() || r.stderr.trim());
        }, 60_000);
      }),
    );
    progress(`${cellCount} cells joined: agent, DNS server and sidecar each, in ${((Date.now() - t1) / 1000).toFixed(1)}s`);

    const exec: Mesh["exec"] = (ns, argv, o = {}) =>
      new Promise((resolveExec) => {
        const child = execFile("ip", ["netns", "exec", ns, ...argv], { timeout: o.timeoutMs ?? 30_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
          resolveExec({ code, stdout, stderr });
        });
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(o.input ?? "");
      });

    const attach: Mesh["attach"] = async (cell, spec) => {
      const instanceGuid = spec.instanceGuid ?? `${spec.appName}-${spec.index}`;
      const ns = `${prefix}-${instanceGuid}`.slice(0, 60);
      await addNamespace(ns);
      const res = await runCni("ADD", {
        socketPath: cell.socketPath,
        containerId: instanceGuid,
        netns: nsPath(ns),
        config: {
          runtimeConfig: {
            metadata: {
              app_id: spec.appGuid,
              app_name: spec.appName,
              space_id: spec.spaceGuid,
              org_id: spec.orgGuid,
              instance_id: instanceGuid,
              instance_index: spec.index,
              ports: [...(spec.ports ?? [8080])],
            },
          },
        },
      });
      if (res.code !== 0) throw new Error(`weft-cni ADD for ${instanceGuid} on ${cell.id} failed: ${res.stdout.trim()}`);
      const result = res.json as { ips?: { address: string }[]; dns?: { nameservers?: string[]; search?: string[] } } | undefined;
      const ip = result?.ips?.[0]?.address.split("/")[0];
      if (!ip) throw new Error(`weft-cni ADD for ${instanceGuid} returned no IP: ${res.stdout.trim()}`);
      // What a runtime does with the result's dns: the container's resolv.conf.
      const etc = join("/etc/netns", ns);
      state.etcNetns.push(etc);
      saveState(state);
      mkdirSync(etc, { recursive: true });
      const dns = result?.dns ?? {};
      writeFileSync(
        join(etc, "resolv.conf"),
        [...(dns.nameservers ?? []).map((n) => `nameserver ${n}`), ...(dns.search?.length ? [`search ${dns.search.join(" ")}`] : []), "options timeout:2 attempts:2", ""].join("\n"),
      );
      return { spec, instanceGuid, cell, ns, nsPath: nsPath(ns), ip, caFile: join(cell.sidecarDir, "instances", instanceGuid, "ca.crt") };
    };

    const detach: Mesh["detach"] = async (c) => {
      const res = await runCni("DEL", { socketPath: c.cell.socketPath, containerId: c.instanceGuid, netns: c.nsPath, config: {} });
      if (res.code !== 0) throw new Error(`weft-cni DEL for ${c.instanceGuid} failed: ${res.stdout.trim()}`);
      for (const pid of await execFileP("ip", ["netns", "pids", c.ns]).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => [])) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await execFileP("ip", ["netns", "del", c.ns]);
    };

    const startHttpApp: Mesh["startHttpApp"] = async (c) => {
      const ready = join(runDir, `${c.instanceGuid}.ready`);
      const certDir = join(c.cell.sidecarDir, "instances", c.instanceGuid);
      const pid = spawnLogged(`app-${c.instanceGuid}`, [process.execPath, "-e", APP_SERVER, ready], {
        netns: c.nsPath,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          WEFT_APP_NAME: c.spec.appName,
          CF_INSTANCE_INDEX: String(c.spec.index),
          CF_INSTANCE_GUID: c.instanceGuid,
          CF_INSTANCE_INTERNAL_IP: c.ip,
          CF_INSTANCE_CERT: join(certDir, "instance.crt"),
          CF_INSTANCE_KEY: join(certDir, "instance.key"),
          WEFT_CELL: c.cell.id,
          PORT: "8080",
        },
      });
      await waitFor(`app ${c.instanceGuid} to listen`, `app-${c.instanceGuid}`, pid, () => {
        if (!existsSync(ready)) throw new Error("not listening yet");
      }, 20_000);
    };

    const stopControl: Mesh["stopControl"] = async () => {
      try {
        process.kill(controlPid, "SIGTERM");
      } catch {
        return;
      }
      await eventually(() => {
        if (processStartTime(controlPid) !== undefined) throw new Error("still running");
      }, { timeoutMs: 15_000, intervalMs: 50, message: "control to stop" }).catch(() => {
        try {
          process.kill(controlPid, "SIGKILL");
        } catch {
          // gone
        }
      });
    };
    const startControl: Mesh["startControl"] = async () => {
      if (processStartTime(controlPid) !== undefined) throw new Error("control is running");
      controlPid = spawnLogged("control", controlArgs);
      await controlAnswers(controlPid);
    };

    return {
      stateDir,
      stopControl,
      startControl,
      prefix,
      state,
      apiUrl,
      grpcPort,
      controlDataDir,
      adminToken,
      client,
      cells,
      attach,
      detach,
      startHttpApp,
      exec,
      spawnLogged,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

// Inside a cell: is the DNS server up and fed (NOERROR/NXDOMAIN for an unknown internal name, not
// SERVFAIL before the first snapshot, nor refused)?
const DNS_READY = `
const { Resolver } = require("node:dns");
const r = new Resolver({ timeout: 1000, tries: 1 });
r.setServers(["169.254.0.2"]);
r.resolve4("weft-up-ready-check.apps.internal", (err) => {
  console.log(!err || err.code === "ENODATA" || err.code === "ENOTFOUND" ? "ready" : "not ready: " + err.code);
});`;

function nsExec(netnsPath: string, argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolveExec) => {
    execFile("nsenter", [`--net=${netnsPath}`, "--", ...argv], { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolveExec({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface CniOutcome {
  readonly code: number;
  readonly json: Record<string, unknown> | undefined;
  readonly stdout: string;
}

/** Runs the weft-cni binary like a runtime: CNI_* environment, the network configuration on stdin. */
export function runCni(
  command: string,
  o: { socketPath: string; containerId: string; netns?: string; ifname?: string; config?: Record<string, unknown> },
): Promise<CniOutcome> {
  const config = { cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: o.socketPath, ...(o.config ?? {}) };
  return new Promise((resolveCni) => {
    const child = execFile(
      WEFT_CNI(),
      [],
      {
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: o.containerId,
          CNI_NETNS: o.netns ?? "",
          CNI_IFNAME: o.ifname ?? "eth0",
          CNI_ARGS: "",
          CNI_PATH: "/usr/lib/cni",
        },
        timeout: 60_000,
      },
      (err, stdout) => {
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        resolveCni({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, json, stdout });
      },
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(JSON.stringify(config));
  });
}

/** Connected cells and their enforced revisions (for waiting until a change is enforced). */
export async function meshStatus(client: ApiClient): Promise<StatusJson> {
  return (await client.call<StatusJson>("GET", "/weft/v1/status")).body;
}
