// The processes bench/sidecar.ts measures, each an unprivileged foreground process (nginx and
// haproxy run as nobody through setpriv) on loopback, pinned to a core with taskset, with its own
// config in a temp directory, stopped at the end: the app (nginx, 1 worker, a small response and a
// 1 MiB file), nginx's stream module (1 worker), haproxy (mode tcp, 1 thread) and our sidecar.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, chown, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../../common/eventually.js";
import { waitSidecarServing, writeSidecarContainer } from "../../common/sidecar-contract.js";
import type { IssuedCredentials } from "../../test/support/test-pki.js";

export interface BenchProcess {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface BenchFiles {
  readonly dir: string;
  readonly key: string;
  readonly chain: string;
  readonly combined: string;
  readonly creds: IssuedCredentials;
}

const UNPRIVILEGED = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
const NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

export async function writeBenchFiles(dir: string, creds: IssuedCredentials): Promise<BenchFiles> {
  await chmod(dir, 0o755);
  await chown(dir, 65534, 65534); // nginx and haproxy run as nobody and write their logs here
  const f = { key: join(dir, "key.pem"), chain: join(dir, "chain.pem"), combined: join(dir, "combined.pem") };
  await writeFile(f.key, creds.keyPem, { mode: 0o644 });
  await writeFile(f.chain, creds.certificateChainPem, { mode: 0o644 });
  await writeFile(f.combined, creds.certificateChainPem + creds.keyPem, { mode: 0o644 });
  await writeFile(join(dir, "1m"), Buffer.alloc(1 << 20, 0x61), { mode: 0o644 });
  return { dir, ...f, creds };
}

function portOpen(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve();
    });
    s.once("error", reject);
  });
}

async function launch(name: string, port: number, argv: readonly string[], core: string | undefined): Promise<BenchProcess> {
  const full = core === undefined ? [...argv] : ["taskset", "-c", core, ...argv];
  const child: ChildProcess = spawn(full[0]!, full.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  try {
    await Promise.race([
      eventually(() => portOpen(port), { timeoutMs: 60_000, intervalMs: 50, message: `${name} did not start` }),
      exited.then(() => Promise.reject(new Error(`${name} exited: ${stderr}`))),
    ]);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  return {
    name,
    port,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

const nginxCommon = (dir: string, name: string, workerConnections = 16384) => `
pid ${dir}/${name}.pid;
error_log ${dir}/${name}.err warn;
worker_processes 1;
events { worker_connections ${workerConnections}; }`;

export async function startAppNginx(f: BenchFiles, port: number, core: string | undefined): Promise<BenchProcess> {
  const conf = join(f.dir, "app.conf");
  await writeFile(conf, `${nginxCommon(f.dir, "app")}
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path ${f.dir}/cb; proxy_temp_path ${f.dir}/pt; fastcgi_temp_path ${f.dir}/ft; uwsgi_temp_path ${f.dir}/ut; scgi_temp_path ${f.dir}/st;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${f.dir};
    location = / { return 200 "hello from the app\\n"; }
    location = /1m { }
  }
}
`);
  return launch("app", port, [...UNPRIVILEGED, "nginx", "-p", f.dir, "-e", `${f.dir}/app.err`, "-c", conf, "-g", "daemon off;"], core);
}

/** workerConnections: nginx preallocates its connection table, so the memory runs use Debian's
 * usual size (768 -> 1024) rather than the load runs' 16384. */
export async function startNginxStream(f: BenchFiles, port: number, appPort: number, core: string | undefined, name = "nginx-stream", workerConnections = 16384): Promise<BenchProcess> {
  const conf = join(f.dir, `${name}-${port}.conf`);
  await writeFile(conf, `load_module ${NGINX_STREAM_MODULE};
${nginxCommon(f.dir, `${name}-${port}`, workerConnections)}
stream {
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${f.chain};
    ssl_certificate_key ${f.key};
    proxy_pass 127.0.0.1:${appPort};
  }
}
`);
  return launch(name, port, [...UNPRIVILEGED, "nginx", "-p", f.dir, "-e", `${f.dir}/${name}-${port}.err`, "-c", conf, "-g", "daemon off;"], core);
}

export async function startHaproxy(f: BenchFiles, port: number, appPort: number, core: string | undefined): Promise<BenchProcess> {
  const conf = join(f.dir, "haproxy.cfg");
  await writeFile(conf, `global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:${port} ssl crt ${f.combined}
  default_backend be
backend be
  server app 127.0.0.1:${appPort}
`);
  return launch("haproxy-tcp", port, [...UNPRIVILEGED, "haproxy", "-db", "-f", conf], core);
}

/** The weft command: compiled (dist) when there, else the sources through tsx. */
export function weftCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const compiled = join(here, "..", "..", "cli", "main.js");
  return existsSync(compiled) ? [process.execPath, compiled] : [process.execPath, "--import", "tsx", join(here, "..", "..", "cli", "main.ts")];
}

/** Our sidecar for one container (per-container mode, on loopback): the same data path as shared
 * mode. dataPath "native" (the default) moves the bytes in its weft-tlsd child process, which
 * inherits the core; the measured process tree includes it. */
export async function startOurs(f: BenchFiles, port: number, appPort: number, core: string | undefined, guid = "bench", dataPath: "native" | "node" = "native"): Promise<BenchProcess> {
  const channel = join(f.dir, `channel-${port}`);
  const generation = await writeSidecarContainer(channel, { instanceGuid: guid, netnsPath: "/proc/self/ns/net", containerIp: "127.0.0.1", appPort, credentials: f.creds });
  const name = dataPath === "native" ? "weft-sidecar" : "weft-node-tls";
  const p = await launch(name, port, [...weftCommand(), "sidecar", "--instance", guid, "--channel-dir", channel, "--listen-host", "127.0.0.1", "--port", String(port), "--data-path", dataPath, "--log-level", "warn"], core);
  await waitSidecarServing(channel, guid, generation, { timeoutMs: 30_000 });
  return p;
}
