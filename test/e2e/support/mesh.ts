// A whole Weft mesh for black-box end-to-end tests, built only from the real processes:
//
//   underlay namespace (bridge br0, 10.211.N.0/24)
//    ├─ control host namespace (.100): `weft control` on PostgreSQL (through a cuttable unix-socket
//    │    proxy to the machine's server) or on the embedded store; the CLI and curl run here too
//    ├─ outside host namespace (.101): a host beyond every cell (egress, upstream DNS)
//    └─ cell namespaces (.11, .12, ...): `weft agent`, `weft dns` and `weft sidecar`, each started
//         from dist through bin/weft.js inside the cell's namespace
//   containers: bare namespaces attached by the real dist/bin/weft-cni binary, invoked as a runtime
//   does (CNI_* environment, config on stdin), with the resolv.conf a runtime writes from the CNI
//   result's dns section bind-mounted over /etc/resolv.conf for the commands run "in" them.
//
// Every namespace is named wt<random>..., and destroy() (call it from afterAll) stops every process,
// deletes every namespace and drops the database even when a test failed. Nothing is done in the
// machine's own namespace: no links, routes, firewall rules or sysctls there.
import { execFile } from "node:child_process";
import { randomInt, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../common/eventually.js";
import { selfSignedServerCert } from "../../../common/x509.js";
import { seedEmbeddedStore } from "../../../cli/up/store-template.js";
import { runCni, type CniOutcome } from "../../support/agents.js";
import { createTestDatabase } from "../../support/db.js";
import { createNetnsFixture, type Cell, type Namespace, type NetnsFixture } from "../../support/netns-fixture.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { meshProcess, weftArgv, type MeshProcess } from "./processes.js";

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv inside a namespace; never throws for a non-zero exit (the caller checks `code`). */
export function execIn(ns: Namespace | undefined, argv: readonly string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const full = ns ? ["nsenter", `--net=${ns.path}`, ...argv] : [...argv];
  return new Promise((resolve) => {
    const child = execFile(
      full[0]!,
      full.slice(1),
      { env: { ...process.env, ...(opts.env ?? {}) }, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 60_000, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(opts.input ?? "");
  });
}

export interface App {
  readonly name: string;
  readonly guid: string;
  readonly space: string;
  readonly org: string;
}

export interface Instance {
  readonly id: string;
  readonly app: App;
  readonly index: number;
  readonly cell: MeshCell;
  readonly ns: Namespace;
  readonly ip: string;
  /** The CNI ADD result as the runtime received it. */
  readonly result: Record<string, unknown>;
  /** The resolv.conf a runtime writes for this container from the result's dns section. */
  readonly resolvConf: string;
  /** The app's files the runtime mounts (instance.crt, instance.key, ca.crt). */
  readonly credentialsDir: string;
}

export interface MeshCell {
  readonly id: string;
  readonly ns: Cell;
  readonly dir: string;
  readonly socketPath: string;
  readonly sidecarDir: string;
  readonly agent: MeshProcess;
  readonly dns: MeshProcess;
  readonly sidecar: MeshProcess;
}

export interface MeshOptions {
  readonly store: "postgres" | "embedded";
  readonly cells?: number;
}

export interface Mesh {
  readonly fx: NetnsFixture;
  readonly dir: string;
  readonly controlHost: Cell;
  readonly outside: Cell;
  readonly control: MeshProcess;
  readonly cells: readonly MeshCell[];
  readonly apiCaFile: string;
  readonly controlDataDir: string;
  /** Set with store "postgres": the proxy between control and PostgreSQL, to cut and restore. */
  readonly pgProxy: TcpProxy | undefined;
  /** `weft ...` on the control host, as an operator would run it (admin token unless `token`). */
  cli(args: readonly string[], opts?: { token?: string }): Promise<ExecResult>;
  /** Like cli(), but throws with the output when the command fails. */
  cliOk(args: readonly string[], opts?: { token?: string }): Promise<string>;
  /** A REST call with curl on the control host: the status and the parsed JSON body. */
  api(method: string, path: string, opts?: { body?: unknown; token?: string }): Promise<{ status: number; json: unknown; text: string }>;
  /** Registers an app through the CLI. */
  registerApp(name: string, space?: string, org?: string): Promise<App>;
  /** Starts one instance: a container namespace attached by weft-cni ADD, running the test app. */
  startInstance(cell: MeshCell, app: App, index?: number, opts?: { tcp?: readonly number[]; udp?: readonly number[]; lifecycle?: "running" | "task" | "staging" }): Promise<Instance>;
  /** Stops the app and detaches the container with weft-cni DEL, as a runtime does. */
  stopInstance(inst: Instance): Promise<void>;
  /** Runs a command inside a container, with the container's resolv.conf in place. */
  inContainer(inst: Instance, argv: readonly string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Waits until control answers and every cell's agent, DNS server and sidecar is up. */
  waitReady(): Promise<void>;
  startControl(): void;
  destroy(): Promise<void>;
}

/** The app run in every test container: TCP (HTTP or one line per read) and UDP on given ports. */
export const TEST_APP = `
const net = require("net"), dgram = require("dgram");
const [name, tcp, udp] = process.argv.slice(1);
for (const p of tcp ? tcp.split(",") : []) {
  net.createServer((s) => {
    s.on("error", () => {});
    let first = true;
    s.on("data", (d) => {
      const peer = s.remoteAddress.replace(/^::ffff:/, "");
      if (first && /^(GET|HEAD) /.test(String(d))) {
        const body = name + " " + p + " pong:" + peer + "\\n";
        s.end("HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: " + Buffer.byteLength(body) + "\\r\\nconnection: close\\r\\n\\r\\n" + body);
        return;
      }
      first = false;
      s.write("pong:" + peer + "\\n");
    });
  }).listen(Number(p), "0.0.0.0");
}
for (const p of udp ? udp.split(",") : []) {
  const u = dgram.createSocket("udp4");
  u.on("message", (m, r) => u.send("pong:" + r.address + "\\n", r.port, r.address));
  u.bind(Number(p), "0.0.0.0");
}`;

const CONTROL_PORTS = { api: 4002, grpc: 4003, ops: 4004 } as const;

/** WEFT_E2E_TRACE=1 prints how long each step of a mesh's start takes. */
const t0 = Date.now();
const trace = (what: string) => {
  if (process.env.WEFT_E2E_TRACE) console.error(`[e2e +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
};

export async function createMesh(opts: MeshOptions): Promise<Mesh> {
  const dir = mkdtempSync(join(tmpdir(), "weft-e2e-"));
  const fx = await createNetnsFixture({ subnet: randomInt(1, 250) });
  const procs: MeshProcess[] = [];
  const instances = new Map<string, { inst: Instance; app: MeshProcess }>();
  let database: { url: string; database: string; drop: () => Promise<void> } | undefined;
  let pgProxy: TcpProxy | undefined;

  const destroy = async () => {
    for (const p of [...procs].reverse()) await p.stop("SIGKILL").catch(() => undefined);
    await fx.destroy().catch(() => undefined);
    await pgProxy?.close().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const controlHost = await fx.addOutside();
    const outside = await fx.addOutside();
    const controlDataDir = join(dir, "control");
    mkdirSync(controlDataDir, { recursive: true });
    const apiCert = await selfSignedServerCert({ commonName: "weft-control", dnsNames: ["localhost"], ips: ["127.0.0.1", controlHost.underlayIp], days: 2 });
    const apiCaFile = join(dir, "api.crt");
    const apiKeyFile = join(dir, "api.key");
    writeFileSync(apiCaFile, apiCert.certPem);
    writeFileSync(apiKeyFile, apiCert.keyPem, { mode: 0o600 });

    let databaseArgs: string[] = [];
    // An empty initdb'ed embedded store copied from the template `weft up` keeps (initdb costs
    // 5-20 s here); control still migrates it and makes its own CA and keys.
    if (opts.store === "embedded") await seedEmbeddedStore(join(controlDataDir, "store"));
    if (opts.store === "postgres") {
      database = await createTestDatabase();
      const u = new URL(database.url);
      // The control host namespace cannot reach the machine's 127.0.0.1: it reaches PostgreSQL
      // through a unix socket (file system, so namespace-free), served by a proxy a test can cut.
      const sockDir = join(dir, "pg");
      mkdirSync(sockDir);
      pgProxy = await startTcpProxy(u.hostname, Number(u.port || 5432), { listenPath: join(sockDir, ".s.PGSQL.5432") });
      databaseArgs = ["--database-url", `postgres://${u.username || "postgres"}@/${database.database}?host=${sockDir}`];
    }

    const control = meshProcess(
      "control",
      controlHost,
      weftArgv([
        "control",
        "--data-dir", controlDataDir,
        "--listen", `0.0.0.0:${CONTROL_PORTS.api}`,
        "--grpc-listen", `0.0.0.0:${CONTROL_PORTS.grpc}`,
        "--grpc-advertise", `${controlHost.underlayIp}:${CONTROL_PORTS.grpc}`,
        "--grpc-name", controlHost.underlayIp,
        "--ops-listen", `127.0.0.1:${CONTROL_PORTS.ops}`,
        "--tls-cert", apiCaFile,
        "--tls-key", apiKeyFile,
        "--log-level", "warn",
        ...databaseArgs,
      ]),
    );
    procs.push(control);

    const cliEnv = { WEFT_API: `https://127.0.0.1:${CONTROL_PORTS.api}`, WEFT_CA_CERT: apiCaFile, WEFT_DATA_DIR: controlDataDir };
    const cli: Mesh["cli"] = (args, o = {}) => execIn(controlHost, weftArgv(args), { env: { ...cliEnv, ...(o.token ? { WEFT_TOKEN: o.token } : {}) } });
    const cliOk: Mesh["cliOk"] = async (args, o) => {
      const r = await cli(args, o);
      if (r.code !== 0) throw new Error(`weft ${args.join(" ")} exited ${r.code}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const adminToken = () => eventually(() => {
      const f = join(controlDataDir, "admin.token");
      if (!existsSync(f)) throw new Error("no admin token yet");
      return execIn(undefined, ["cat", f]).then((r) => r.stdout.trim());
    });
    const api: Mesh["api"] = async (method, path, o = {}) => {
      const token = o.token ?? (await adminToken());
      const argv = ["curl", "-sS", "--cacert", apiCaFile, "-X", method, "-H", `Authorization: Bearer ${token}`, "-w", "\n%{http_code}", `${cliEnv.WEFT_API}${path}`];
      if (o.body !== undefined) argv.push("-H", "content-type: application/json", "--data-binary", "@-");
      const r = await execIn(controlHost, argv, o.body !== undefined ? { input: JSON.stringify(o.body) } : {});
      if (r.code !== 0) throw new Error(`curl ${method} ${path}: ${r.stderr}`);
      const cut = r.stdout.lastIndexOf("\n");
      const text = r.stdout.slice(0, cut);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: Number(r.stdout.slice(cut + 1)), json, text };
    };

    const waitControl = () =>
      eventually(
        async () => {
          if (!control.running()) throw new Error(`control exited: ${control.tail()}`);
          const r = await execIn(controlHost, ["curl", "-sf", `http://127.0.0.1:${CONTROL_PORTS.ops}/health`]);
          if (r.code !== 0) throw new Error(`control not healthy yet: ${r.stdout}`);
        },
        { timeoutMs: 60_000, intervalMs: 200, message: "control healthy" },
      );
    trace("control starting");
    control.start();
    await waitControl();
    trace("control healthy");

    // The cells start side by side.
    const startCell = async (i: number): Promise<MeshCell> => {
      const ns = await fx.addCell();
      const id = `cell-${i}`;
      const cellDir = join(dir, id);
      mkdirSync(cellDir);
      const token = (await cliOk(["token", "create", "--join", "--cell", id])).trim();
      const socketPath = join(cellDir, "agent.sock");
      const sidecarDir = join(cellDir, "sidecar");
      const agent = meshProcess(
        `agent ${id}`,
        ns,
        weftArgv([
          "agent",
          "--cell-id", id,
          "--underlay-ip", ns.underlayIp,
          "--underlay-dev", ns.underlayDev,
          "--state-dir", join(cellDir, "state"),
          "--socket", socketPath,
          "--api", `https://${controlHost.underlayIp}:${CONTROL_PORTS.api}`,
          "--api-ca", apiCaFile,
          "--join-token", token,
          "--search-domain", "apps.internal",
          "--sidecar-dir", sidecarDir,
          "--wait-for-sidecar",
          "--log-level", "warn",
        ]),
      );
      const dns = meshProcess(
        `dns ${id}`,
        ns,
        weftArgv(["dns", "--cell-dir", join(cellDir, "state", "cell"), "--upstream", `${outside.underlayIp}:53`, "--log-level", "warn"]),
      );
      const sidecar = meshProcess(`sidecar ${id}`, ns, weftArgv(["sidecar", "--channel-dir", sidecarDir, "--log-level", "warn"]));
      procs.push(agent, dns, sidecar);
      agent.start();
      sidecar.start();
      // The DNS server reads the credentials the agent writes once it has joined, and listens on
      // 169.254.0.2, which the agent puts on the cell's loopback.
      await eventually(
        () => {
          if (!agent.running()) throw new Error(`agent exited: ${agent.tail()}`);
          if (!existsSync(join(cellDir, "state", "cell", "cell.json")) || !existsSync(socketPath)) throw new Error("agent not joined yet");
        },
        { timeoutMs: 60_000, intervalMs: 100, message: `${id} joined` },
      );
      await eventually(
        async () => {
          const r = await execIn(ns, ["ip", "-br", "addr", "show", "lo"]);
          if (!r.stdout.includes("169.254.0.2")) throw new Error("no 169.254.0.2 on the cell's loopback yet");
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `${id} base` },
      );
      trace(`${id} joined`);
      dns.start();
      return { id, ns, dir: cellDir, socketPath, sidecarDir, agent, dns, sidecar };
    };
    const cells: MeshCell[] = await Promise.all(Array.from({ length: opts.cells ?? 2 }, (_, i) => startCell(i + 1)));

    const waitReady = async () => {
      await waitControl();
      for (const c of cells) {
        await eventually(
          async () => {
            for (const p of [c.agent, c.dns, c.sidecar]) if (!p.running()) throw new Error(`${p.name} exited: ${p.tail()}`);
            const d = await execIn(c.ns, ["dig", "+tries=1", "+time=1", "@169.254.0.2", "ready.invalid-app.apps.internal"]);
            if (!d.stdout.includes("status: NOERROR")) throw new Error(`dns not serving yet: ${d.stdout.slice(0, 200)}`);
            const s = await execIn(c.ns, ["curl", "-sf", "http://127.0.0.1:4064/health"]);
            if (s.code !== 0) throw new Error("sidecar not healthy yet");
          },
          { timeoutMs: 60_000, intervalMs: 200, message: `${c.id} ready` },
        );
      }
    };
    await waitReady();
    trace("mesh ready");

    const registerApp: Mesh["registerApp"] = async (name, space = "space-1", org = "org-1") => {
      const guid = randomUUID();
      // Through the REST API (the CLI's `weft app register` is the same call, a process slower).
      const r = await api("PUT", `/weft/v1/apps/${guid}`, { body: { name, space_guid: space, org_guid: org } });
      if (r.status !== 201) throw new Error(`register ${name}: ${r.status} ${r.text}`);
      return { name, guid, space, org };
    };

    const startInstance: Mesh["startInstance"] = async (cell, app, index = 0, o = {}) => {
      const id = randomUUID();
      const ns = await fx.addContainer();
      const tcp = o.tcp ?? [8080];
      const udp = o.udp ?? [];
      const ports = [...new Set([...tcp, ...udp])];
      const metadata = { app_id: app.guid, app_name: app.name, space_id: app.space, org_id: app.org, instance_id: id, instance_index: index, ports, ...(o.lifecycle ? { lifecycle: o.lifecycle } : {}) };
      const res: CniOutcome = await runCni("ADD", { socketPath: cell.socketPath, containerId: id, netns: ns.path, config: { runtimeConfig: { metadata } } });
      if (res.code !== 0 || !res.json) throw new Error(`weft-cni ADD for ${app.name}/${index} failed (${res.code}): ${res.stdout}`);
      const ips = (res.json.ips as { address: string }[] | undefined) ?? [];
      const ip = ips[0]?.address.split("/")[0];
      if (!ip) throw new Error(`ADD result without an address: ${res.stdout}`);
      // What a runtime writes from the result's dns section.
      const dnsSection = (res.json.dns ?? {}) as { nameservers?: string[]; search?: string[]; options?: string[] };
      const resolvConf = join(dir, `resolv-${id}.conf`);
      const lines = [
        ...(dnsSection.search?.length ? [`search ${dnsSection.search.join(" ")}`] : []),
        ...(dnsSection.nameservers ?? []).map((n) => `nameserver ${n}`),
        ...(dnsSection.options?.length ? [`options ${dnsSection.options.join(" ")}`] : []),
      ];
      writeFileSync(resolvConf, lines.join("\n") + "\n");
      const appProc = meshProcess(`app ${app.name}/${index}`, ns, [process.execPath, "-e", TEST_APP, app.name, tcp.join(","), udp.join(",")]);
      appProc.start();
      const inst: Instance = { id, app, index, cell, ns, ip, result: res.json, resolvConf, credentialsDir: join(cell.sidecarDir, "instances", id) };
      instances.set(id, { inst, app: appProc });
      procs.push(appProc);
      await eventually(
        async () => {
          if (!appProc.running()) throw new Error(`app exited: ${appProc.tail()}`);
          const r = await execIn(ns, ["ss", "-Hltn"]);
          for (const p of tcp) if (!r.stdout.includes(`:${p} `)) throw new Error(`not listening on ${p} yet`);
        },
        { timeoutMs: 20_000, intervalMs: 50, message: `app ${app.name}/${index} listening` },
      );
      trace(`instance ${app.name}/${index} up`);
      return inst;
    };

    const stopInstance: Mesh["stopInstance"] = async (inst) => {
      const entry = instances.get(inst.id);
      await entry?.app.stop("SIGKILL");
      const res = await runCni("DEL", { socketPath: inst.cell.socketPath, containerId: inst.id, netns: inst.ns.path });
      if (res.code !== 0) throw new Error(`weft-cni DEL ${inst.id} failed (${res.code}): ${res.stdout}`);
      instances.delete(inst.id);
    };

    const inContainer: Mesh["inContainer"] = (inst, argv, o = {}) =>
      execIn(inst.ns, ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"', inst.resolvConf, ...argv], o);

    return {
      fx,
      dir,
      controlHost,
      outside,
      control,
      cells,
      apiCaFile,
      controlDataDir,
      pgProxy,
      cli,
      cliOk,
      api,
      registerApp,
      startInstance,
      stopInstance,
      inContainer,
      waitReady,
      startControl: () => control.start(),
      destroy,
    };
  } catch (err) {
    await destroy();
    throw err;
  }
}
