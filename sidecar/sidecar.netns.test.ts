// The sidecar in real network namespaces: a cell with containers wired to it as the data plane
// does. Shared mode (one process in the cell's namespace) puts each container's 61443 listener
// inside that container's namespace, never on the cell host; per-container mode runs one process
// inside a container's namespace. Clients in another container reach the app by name, with Node
// and openssl, across a rotation and a removal.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { readSidecarStatus, removeSidecarContainer, waitSidecarServing, writeSidecarContainer, type SidecarCredentials } from "../common/sidecar-contract.js";
import { createNetnsFixture, type Cell, type NetnsFixture } from "../test/support/netns-fixture.js";
import { addWiredContainer, enableForwarding, listeners, type WiredContainer } from "../test/support/sidecar-netns.js";
import { TEST_IDENTITY, createTestRoot, issueInstance, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";
const APP = `
const name = process.argv[1];
require("node:net").createServer({ allowHalfOpen: true }, (s) => {
  s.write(name + ":");
  s.pipe(s, { end: false });
  s.on("end", () => s.end());
  s.on("error", () => {});
}).listen(8080, "0.0.0.0");`;
const CLIENT = `
const tls = require("node:tls");
const [host, port, name, caFile, msg] = process.argv.slice(1);
const s = tls.connect({ host, port: Number(port), servername: name, ca: require("node:fs").readFileSync(caFile) });
let serial, out = "";
s.on("secureConnect", () => { serial = s.getPeerCertificate().serialNumber; s.end(msg); });
s.on("data", (d) => (out += d));
s.on("end", () => console.log(JSON.stringify({ authorized: s.authorized, serial, out })));
s.on("error", (e) => console.log(JSON.stringify({ error: e.code || e.message })));`;
const CONNECT = `
const s = require("node:net").connect(Number(process.argv[2]), process.argv[1]);
s.on("connect", () => { console.log("connected"); s.destroy(); });
s.on("error", (e) => console.log(e.code));`;

interface ClientResult {
  readonly authorized?: boolean;
  readonly serial?: string;
  readonly out?: string;
  readonly error?: string;
}

describe("sidecar in network namespaces", () => {
  let fx: NetnsFixture;
  let cell: Cell;
  let outside: Cell;
  let c1: WiredContainer;
  let c2: WiredContainer;
  let c3: WiredContainer;
  let caller: WiredContainer;
  let dir: string;
  let root: TestRoot;
  let caFile: string;
  const children: ChildProcess[] = [];

  const spawnLogged = (ns: { name: string; path: string }, argv: string[]) => {
    const child = fx.spawn(ns, argv);
    child.stdout?.resume();
    let tail = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (tail = (tail + d).slice(-4000)));
    child.on("exit", (code) => code !== null && code !== 0 && console.error(`${argv.slice(0, 6).join(" ")} exited ${code}: ${tail}`));
    children.push(child);
    return child;
  };
  const weft = (args: string[]) => [process.execPath, "--import", "tsx", "cli/main.ts", ...args];
  const call = async (from: WiredContainer, host: string, msg: string, name = NAME): Promise<ClientResult> =>
    JSON.parse((await fx.exec(from, [process.execPath, "-e", CLIENT, host, "61443", name, caFile, msg])).trim()) as ClientResult;
  const put = async (channel: string, c: WiredContainer, guid: string, credentials: SidecarCredentials) => {
    const generation = await writeSidecarContainer(channel, { instanceGuid: guid, netnsPath: c.path, containerIp: c.ip, credentials });
    return waitSidecarServing(channel, guid, generation, { timeoutMs: 60_000 });
  };

  beforeAll(async () => {
    fx = await createNetnsFixture({ subnet: 77 });
    cell = await fx.addCell();
    outside = await fx.addOutside();
    await enableForwarding(fx, cell);
    c1 = await addWiredContainer(fx, cell, 1);
    c2 = await addWiredContainer(fx, cell, 2);
    c3 = await addWiredContainer(fx, cell, 3);
    caller = await addWiredContainer(fx, cell, 9);
    for (const [c, name] of [[c1, "c1"], [c2, "c2"], [c3, "c3"]] as const) spawnLogged(c, [process.execPath, "-e", APP, name]);
    for (const c of [c1, c2, c3]) await eventually(async () => expect(await listeners(fx, c)).toContain("0.0.0.0:8080"), { timeoutMs: 30_000 });
    dir = await mkdtemp(join(tmpdir(), "weft-sidecar-netns-"));
    root = await createTestRoot();
    caFile = join(dir, "ca.pem");
    await writeFile(caFile, root.root.certPem);
  });
  afterAll(async () => {
    for (const c of children) c.kill("SIGKILL");
    await fx?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("shared mode: one process in the cell serves each container's 61443 from inside that container, never on the cell host", async () => {
    const channel = join(dir, "shared");
    spawnLogged(cell, weft(["sidecar", "--channel-dir", channel, "--ops-listen", "127.0.0.1:0", "--log-level", "warn"]));
    const first = await issueInstance(root);
    await put(channel, c1, "g1", first);
    await put(channel, c2, "g2", await issueInstance(root, { ...TEST_IDENTITY, instanceGuid: "g2" }));

    expect(await listeners(fx, c1)).toContain("0.0.0.0:61443");
    expect(await listeners(fx, c2)).toContain("0.0.0.0:61443");
    expect((await listeners(fx, cell)).filter((l) => l.endsWith(":61443"))).toEqual([]);
    expect((await fx.exec(outside, [process.execPath, "-e", CONNECT, cell.underlayIp, "61443"])).trim()).toBe("ECONNREFUSED");

    expect(await call(caller, c1.ip, "hi")).toEqual({ authorized: true, serial: first.serialNumber.toUpperCase(), out: "c1:hi" });
    expect(await call(caller, c2.ip, "there")).toMatchObject({ authorized: true, out: "c2:there" });
    expect(await call(caller, c1.ip, "x", c1.ip)).toMatchObject({ error: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const ossl = await fx.exec(caller, ["sh", "-c", `echo ping | openssl s_client -connect ${c1.ip}:61443 -servername ${NAME} -verify_hostname ${NAME} -CAfile ${caFile} -verify_return_error 2>&1; true`]);
    expect(ossl).toContain("Verify return code: 0 (ok)");

    const next = await issueInstance(root, TEST_IDENTITY, { keyPem: first.keyPem });
    await put(channel, c1, "g1", next);
    expect((await call(caller, c1.ip, "again")).serial).toBe(next.serialNumber.toUpperCase());

    // A container file naming the cell's own namespace is refused: 61443 would be on the cell host.
    const bad = await writeSidecarContainer(channel, { instanceGuid: "g-host", netnsPath: cell.path, containerIp: c3.ip, credentials: next });
    await expect(waitSidecarServing(channel, "g-host", bad, { timeoutMs: 60_000 })).rejects.toThrow(/cell host/);
    expect((await listeners(fx, cell)).filter((l) => l.endsWith(":61443"))).toEqual([]);

    await removeSidecarContainer(channel, "g2");
    await eventually(async () => expect(await listeners(fx, c2)).not.toContain("0.0.0.0:61443"), { timeoutMs: 30_000 });
    await eventually(async () => expect(await readSidecarStatus(channel, "g2")).toBeUndefined());
    expect(await call(caller, c1.ip, "still")).toMatchObject({ out: "c1:still" });
  });

  it("per-container mode: one process inside the container's namespace, refusing to run anywhere else", async () => {
    const channel = join(dir, "per-container");
    const creds = await issueInstance(root, { ...TEST_IDENTITY, instanceGuid: "g3" });
    await writeSidecarContainer(channel, { instanceGuid: "g3", netnsPath: c3.path, containerIp: c3.ip, credentials: creds });
    spawnLogged(c3, weft(["sidecar", "--instance", "g3", "--channel-dir", channel, "--log-level", "warn"]));
    await waitSidecarServing(channel, "g3", 1, { timeoutMs: 60_000 });
    expect(await call(caller, c3.ip, "solo")).toMatchObject({ authorized: true, out: "c3:solo" });
    expect((await listeners(fx, cell)).filter((l) => l.endsWith(":61443"))).toEqual([]);

    // Started in the cell's namespace by mistake, it does not open 61443 there.
    await writeSidecarContainer(channel, { instanceGuid: "g4", netnsPath: c2.path, containerIp: c2.ip, credentials: creds });
    spawnLogged(cell, weft(["sidecar", "--instance", "g4", "--channel-dir", channel, "--log-level", "error"]));
    await expect(waitSidecarServing(channel, "g4", 1, { timeoutMs: 60_000 })).rejects.toThrow(/not in/);
    expect((await listeners(fx, cell)).filter((l) => l.endsWith(":61443"))).toEqual([]);
  });
});
