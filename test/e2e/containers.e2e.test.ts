// End to end with real containers: a private Docker engine (docker.io) runs them, driven through
// testcontainers from an image built here FROM scratch (Node and the libraries it links, nothing
// pulled). Each container starts with --network none, and weft-cni ADD then networks it through its
// /proc/<pid>/ns/net, as a CNI runtime does; the resolv.conf is written from the CNI result. The
// apps then reach each other by name (the short name, through the search list) only under a policy,
// over HTTP on 8080 and over HTTPS on 61443 verified with the platform CA given to the container.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StartedTestContainer } from "testcontainers";
import { eventually } from "../../common/eventually.js";
import { runCni } from "../support/agents.js";
import { startDockerd, type DockerdStart } from "./support/dockerd.js";
import { createMesh, execIn, TEST_APP, type App, type Mesh, type MeshCell } from "./support/mesh.js";

const IMAGE = "wt-e2e/node:local";
const CREDENTIALS = "/etc/cf-instance-credentials";

const HTTP_GET = `
const url = process.argv[1];
const req = require(url.startsWith("https:") ? "https" : "http").get(url, { timeout: 3000 }, (r) => {
  let b = "";
  r.on("data", (d) => (b += d));
  r.on("end", () => console.log(b.trim()));
});
req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
req.on("error", (e) => { console.log("error:" + (e.code || e.message)); process.exitCode = 1; });`;

/** A build context: the node binary and every library it loads, at their own paths. */
async function nodeImageContext(dir: string): Promise<string> {
  const ctx = join(dir, "image");
  const files = [process.execPath];
  const ldd = await execIn(undefined, ["ldd", process.execPath]);
  for (const line of ldd.stdout.split("\n")) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m?.[1]) files.push(m[1]);
  }
  for (const f of files) {
    const to = join(ctx, f === process.execPath ? "/bin/node" : f);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(f, to); // follows symlinks
  }
  mkdirSync(join(ctx, "etc"), { recursive: true });
  writeFileSync(join(ctx, "Dockerfile"), 'FROM scratch\nCOPY . /\nENV PATH=/bin\nCMD ["/bin/node", "--version"]\n');
  return ctx;
}

interface Attached {
  readonly container: StartedTestContainer;
  readonly id: string;
  readonly pid: number;
  readonly ip: string;
  readonly cell: MeshCell;
}

describe.runIf(process.getuid?.() === 0)("e2e: real containers from a container engine, networked by weft-cni", () => {
  let mesh: Mesh;
  let docker: DockerdStart;
  const attached: Attached[] = [];
  let image: Awaited<ReturnType<typeof buildImage>> | undefined;

  async function buildImage(dir: string) {
    const { GenericContainer } = await import("testcontainers");
    return GenericContainer.fromDockerfile(await nodeImageContext(dir)).build(IMAGE, { deleteOnExit: false });
  }

  /** Starts a container with no network, then ADD through its /proc/<pid>/ns/net, as a runtime. */
  async function run(app: App, cell: MeshCell): Promise<Attached> {
    if (!docker.ok || !image) throw new Error("no engine");
    const container = await image.withNetworkMode("none").withCommand(["/bin/node", "-e", TEST_APP, app.name, "8080", ""]).start();
    const id = container.getId();
    const inspect = (await docker.engine.get(`/containers/${id}/json`)) as { State: { Pid: number } };
    const pid = inspect.State.Pid;
    const instanceId = randomUUID();
    const metadata = { app_id: app.guid, app_name: app.name, space_id: app.space, org_id: app.org, instance_id: instanceId, instance_index: 0, ports: [8080] };
    const res = await runCni("ADD", { socketPath: cell.socketPath, containerId: id, netns: `/proc/${pid}/ns/net`, config: { runtimeConfig: { metadata } } });
    if (res.code !== 0 || !res.json) {
      await container.stop();
      throw new Error(`ADD ${app.name}: ${res.stdout}`);
    }
    const ip = (res.json.ips as { address: string }[])[0]!.address.split("/")[0]!;
    const a: Attached = { container, id, pid, ip, cell };
    attached.push(a);
    // The runtime's resolv.conf, from the result's dns section.
    const dns = res.json.dns as { nameservers: string[]; search: string[] };
    const resolv = `search ${dns.search.join(" ")}\n${dns.nameservers.map((n) => `nameserver ${n}`).join("\n")}\n`;
    const w = await container.exec(["/bin/node", "-e", `require("fs").writeFileSync("/etc/resolv.conf", ${JSON.stringify(resolv)})`]);
    expect(w.exitCode).toBe(0);
    // The app's certificate files, where the runtime mounts them (CF's path).
    const files = join(cell.sidecarDir, "instances", instanceId);
    await container.copyContentToContainer(
      ["instance.crt", "instance.key", "ca.crt"].map((f) => ({ content: readFileSync(join(files, f)), target: `${CREDENTIALS}/${f}` })),
    );
    return a;
  }

  async function detach(a: Attached): Promise<void> {
    const res = await runCni("DEL", { socketPath: a.cell.socketPath, containerId: a.id, netns: `/proc/${a.pid}/ns/net` });
    expect(res.code).toBe(0);
    await a.container.stop({ timeout: 1_000 });
  }

  const get = async (from: Attached, url: string) => (await from.container.exec(["/bin/node", "-e", HTTP_GET, url])).stdout.trim();

  beforeAll(async () => {
    docker = await startDockerd();
    if (!docker.ok) return;
    process.env.DOCKER_HOST = docker.engine.host;
    // Ryuk would need an image pull; and the engine has no bridge network for testcontainers to
    // find a gateway on (this machine is itself a container), so the host is named here.
    process.env.TESTCONTAINERS_RYUK_DISABLED = "true";
    process.env.TESTCONTAINERS_HOST_OVERRIDE = "localhost";
    image = await buildImage(docker.engine.dir);
    mesh = await createMesh({ store: "embedded" });
  }, 240_000);
  afterAll(async () => {
    for (const a of attached.splice(0)) await a.container.stop({ timeout: 1_000 }).catch(() => undefined);
    if (docker?.ok) await docker.engine.stop();
    await mesh?.destroy();
  }, 120_000);

  it("two containers on different cells reach each other by name (HTTP and HTTPS) under a policy, and not without one", async (ctx) => {
    if (!docker.ok) {
      ctx.skip(docker.reason);
      return;
    }
    const web = await mesh.registerApp("web");
    const api = await mesh.registerApp("api");
    await mesh.cliOk(["route", "map", "api", "api.apps.internal"]);
    const w = await run(web, mesh.cells[0]!);
    const a = await run(api, mesh.cells[1]!);
    // The container's only interface besides lo is weft-cni's: the engine gave it none.
    const links = await execIn(undefined, ["nsenter", `--net=/proc/${a.pid}/ns/net`, "ip", "-o", "-4", "addr", "show"]);
    const ifaces = links.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(1, 4).join(" "));
    expect(ifaces).toEqual(["lo inet 127.0.0.1/8", `eth0 inet ${a.ip}`]);

    // By name from inside the container (the short name through the search list).
    const lookup = await w.container.exec(["/bin/node", "-e", 'require("dns").lookup("api", 4, (e, ip) => console.log(e ? e.code : ip))']);
    expect(lookup.stdout.trim()).toBe(a.ip);
    expect(await get(w, "http://api:8080/")).toMatch(/^error:/);

    await mesh.cliOk(["policy", "add", "web", "--destination-app", "api", "--protocol", "tcp", "--port", "8080", "--wait"]);
    expect(await get(w, "http://api:8080/")).toBe(`api 8080 pong:${w.ip}`);
    expect(await get(w, "http://api.apps.internal:8080/")).toBe(`api 8080 pong:${w.ip}`);
    // HTTPS on 61443 by name, verified with the platform CA the container was given.
    const httpsGet = (from: Attached) =>
      from.container.exec(["/bin/node", "-e", HTTP_GET, "https://api.apps.internal:61443/"], { env: { NODE_EXTRA_CA_CERTS: `${CREDENTIALS}/ca.crt` } });
    expect((await httpsGet(w)).stdout.trim()).toMatch(/^error:/);
    await mesh.cliOk(["policy", "add", "web", "--destination-app", "api", "--protocol", "tcp", "--port", "61443", "--wait"]);
    expect((await httpsGet(w)).stdout.trim()).toMatch(/^api 8080 pong:/);
    const noCa = await w.container.exec(["/bin/node", "-e", HTTP_GET, "https://api.apps.internal:61443/"]);
    expect(noCa.stdout.trim()).toMatch(/^error:(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/);
    // The policy is one way.
    await mesh.cliOk(["route", "map", "web", "web.apps.internal"]);
    await eventually(async () => {
      const r = await a.container.exec(["/bin/node", "-e", 'require("dns").lookup("web", 4, (e, ip) => console.log(e ? e.code : ip))']);
      expect(r.stdout.trim()).toBe(w.ip);
    }, { timeoutMs: 5_000 });
    expect(await get(a, "http://web:8080/")).toMatch(/^error:/);

    // The runtime stops the destination: DEL, then the engine removes it; its name has no answer.
    await detach(a);
    attached.splice(attached.indexOf(a), 1);
    await eventually(async () => {
      const r = await w.container.exec(["/bin/node", "-e", 'require("dns").lookup("api.apps.internal.", 4, (e, ip) => console.log(e ? e.code : ip))']);
      expect(r.stdout.trim()).toMatch(/^E[A-Z]+$/);
    }, { timeoutMs: 5_000 });
    await detach(w);
    attached.splice(attached.indexOf(w), 1);
  });
});
