// The native data path's own failure cases: its control channel under bad input, a crash (it is
// started again and serves every container on the same port), the app being down (the client is
// closed at once and counted), and a cell where it was not built (node:tls serves instead).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { createServer, type Server } from "node:net";
import { silentLogger } from "../common/logger.js";
import { checkCredentials } from "./credentials.js";
import { DEFAULT_LIMITS } from "./config.js";
import { noopSidecarMetrics } from "./metrics.js";
import { NativeDataPath, nativeDataPathBinary } from "./native-dp.js";
import { connectTls, echoWithBye, readAll, startApp, startHarness, unusedPort, type Harness, type TestApp } from "./testing/harness.js";
import { createTestRoot, issueInstance, type IssuedCredentials, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";
const BINARY = nativeDataPathBinary();
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** weft-tlsd on its own, driven line by line. */
function startBinary(): { child: ChildProcessWithoutNullStreams; send(line: string): Promise<string>; sendRaw(data: string | Buffer): void; next(): Promise<string> } {
  const child = spawn(BINARY!, ["--handshake-timeout-ms", "2000"], { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  child.stderr.resume();
  const next = () => new Promise<string>((resolve) => (lines.length > 0 ? resolve(lines.shift()!) : waiters.push(resolve)));
  return {
    child,
    next,
    sendRaw: (d) => child.stdin.write(d),
    send(line) {
      child.stdin.write(`${line}\n`);
      return next();
    },
  };
}

describe.skipIf(BINARY === undefined)("native data path", () => {
  let root: TestRoot;
  let creds: IssuedCredentials;
  let app: TestApp;
  beforeAll(async () => {
    root = await createTestRoot();
    creds = await issueInstance(root);
    app = await startApp(echoWithBye);
  });
  afterAll(async () => {
    await app?.close();
  });

  it("answers bad control input with an error and keeps working", async () => {
    const p = startBinary();
    try {
      expect(await p.next()).toBe("- ready");
      const c = b64(creds.certificateChainPem);
      const k = b64(creds.keyPem);
      expect(await p.send("hello")).toMatch(/^- err INVALID_ARGUMENT/);
      expect(await p.send("1")).toMatch(/^1 err INVALID_ARGUMENT no command/);
      expect(await p.send("2 launch")).toMatch(/^2 err INVALID_ARGUMENT unknown command/);
      expect(await p.send("3 add 1 - 127.0.0.1")).toMatch(/^3 err INVALID_ARGUMENT add wants/);
      expect(await p.send(`4 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} - ###notbase64### ${k}`)).toMatch(/^4 err INVALID_ARGUMENT .*base64/);
      expect(await p.send(`5 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} - ${b64("not a pem")} ${k}`)).toMatch(/^5 err INVALID_ARGUMENT .*no certificate/);
      const other = await issueInstance(root);
      expect(await p.send(`6 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} - ${c} ${b64(other.keyPem)}`)).toMatch(/^6 err INVALID_ARGUMENT .*does not match/);
      expect(await p.send(`7 add 1 - 999.1.1.1 0 127.0.0.1 ${app.port} - ${c} ${k}`)).toMatch(/^7 err INVALID_ARGUMENT bad listen address/);
      expect(await p.send(`8 add 1 - 127.0.0.1 0 127.0.0.1 70000 - ${c} ${k}`)).toMatch(/^8 err INVALID_ARGUMENT/);
      expect(await p.send(`9 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} ${b64("\x00")} ${c} ${k}`)).toMatch(/^9 err INVALID_ARGUMENT bad ALPN/);
      expect(await p.send(`10 add 1 /proc/self/ns/net 127.0.0.1 0 127.0.0.1 ${app.port} - ${c} ${k}`)).toMatch(/^10 err (FORBIDDEN|INTERNAL)/);
      expect(await p.send(`11 add 1 /nonexistent/netns 127.0.0.1 0 127.0.0.1 ${app.port} - ${c} ${k}`)).toMatch(/^11 err NOT_FOUND/);
      expect(await p.send("12 remove 42")).toMatch(/^12 err NOT_FOUND/);
      expect(await p.send("13 cert 42 AAAA AAAA")).toMatch(/^13 err NOT_FOUND/);
      expect(await p.send(`14 ${"x ".repeat(40)}`)).toMatch(/^- err INVALID_ARGUMENT too many tokens/);
      expect(await p.send("15 stats\x00")).toMatch(/^- err INVALID_ARGUMENT NUL byte/);
      // More than the 1 MiB a request may have, without a newline: dropped as a whole.
      p.sendRaw(Buffer.alloc(3 << 20, 0x41));
      expect(await p.send("")).toMatch(/^- err INVALID_ARGUMENT request longer than/);
      // Still serving requests, and a container added now works.
      const added = await p.send(`16 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} - ${c} ${k}`);
      expect(added).toMatch(/^16 ok \d+$/);
      const port = Number(added.split(" ")[2]);
      const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
      s.end("ping");
      expect((await readAll(s)).toString()).toBe("pingbye");
      expect(await p.send(`17 add 1 - 127.0.0.1 0 127.0.0.1 ${app.port} - ${c} ${k}`)).toMatch(/^17 err CONFLICT/);
      expect(await p.send(`18 cert 1 ${b64("junk")} ${k}`)).toMatch(/^18 err INVALID_ARGUMENT/);
      expect(await p.send("19 stats")).toMatch(/^19 ok 0 0 1 0 0 0 0 0 4 7 1:0$/);
      expect(await p.send("20 remove 1")).toBe("20 ok");
      expect(await p.send("21 stats")).toMatch(/^21 ok 0 0 1 0 0 0 0 0 4 7$/);
      // End of input ends the process.
      const exited = new Promise<number | null>((r) => p.child.once("exit", (code) => r(code)));
      p.child.stdin.end();
      expect(await exited).toBe(0);
    } finally {
      p.child.kill("SIGKILL");
    }
  });

  describe("under the sidecar", () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness({ opsPort: 0 });
    });
    afterAll(async () => {
      await h?.stop();
    });
    const metric = async (name: string, label: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${h.sidecar.opsPort}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(label));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1));
    };
    const roundTrip = async (port: number, msg: string) => {
      const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
      s.end(msg);
      return (await readAll(s)).toString();
    };

    it("is started again after a crash and serves every container on the same port", async () => {
      const native = h.sidecar.native!;
      expect(native).toBeDefined();
      const p1 = await h.put({ credentials: creds, appPort: app.port, guid: "crash-1" });
      const p2 = await h.put({ credentials: creds, appPort: app.port, guid: "crash-2" });
      expect(await roundTrip(p1, "a")).toBe("abye");
      const open = await connectTls({ port: p2, ca: root.root.certPem, servername: NAME });
      const openClosed = new Promise<void>((r) => {
        open.once("end", r).once("close", r).once("error", () => r());
      });
      const before = native.starts;
      const pid = native.pid!;
      const proxied = await metric("weft_sidecar_connections_total", 'outcome="proxied"'); // a scrape reads its counters
      process.kill(pid, "SIGKILL");
      await openClosed; // its connections die with it
      await eventually(() => expect(native.starts).toBe(before + 1), { timeoutMs: 10_000 });
      await eventually(async () => {
        expect(native.pid).not.toBe(pid);
        expect(await roundTrip(p1, "b")).toBe("bbye");
        expect(await roundTrip(p2, "c")).toBe("cbye");
      }, { timeoutMs: 10_000 });
      // Counters keep counting across the restart (what was scraped stays); the health check is green again.
      expect(proxied).toBeGreaterThanOrEqual(2);
      expect(await metric("weft_sidecar_connections_total", 'outcome="proxied"')).toBeGreaterThanOrEqual(proxied + 2);
      const health = await fetch(`http://127.0.0.1:${h.sidecar.opsPort}/health`);
      expect(health.status).toBe(200);
      await h.remove("crash-1");
      await h.remove("crash-2");
      await eventually(() => expect(h.sidecar.containers.portOf("crash-2")).toBeUndefined());
    });

    it("closes the client at once when the app is down, and counts it", async () => {
      const before = await metric("weft_sidecar_connections_total", 'outcome="upstream_failed"');
      const port = await h.put({ credentials: creds, appPort: await unusedPort(), guid: "app-down" });
      const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
      s.on("error", () => undefined);
      s.write("anyone?");
      expect((await readAll(s)).length).toBe(0);
      await eventually(async () => expect(await metric("weft_sidecar_connections_total", 'outcome="upstream_failed"')).toBe(before + 1));
      await h.remove("app-down");
    });

    it("counts open connections per container and in total", async () => {
      const port = await h.put({ credentials: creds, appPort: app.port, guid: "count" });
      const socks = await Promise.all([1, 2, 3].map(() => connectTls({ port, ca: root.root.certPem, servername: NAME })));
      await eventually(async () => expect(await metric("weft_sidecar_active_connections", "")).toBe(3));
      for (const s of socks) s.destroy();
      await eventually(async () => expect(await metric("weft_sidecar_active_connections", "")).toBe(0));
      await h.remove("count");
    });
  });

  it("retries a container whose port was taken while it restarted, and reports it meanwhile", async () => {
    const dp = new NativeDataPath({ binary: BINARY!, limits: DEFAULT_LIMITS, metrics: noopSidecarMetrics(), logger: silentLogger, backoff: { initialMs: 1_000, maxMs: 1_000 } });
    let squatter: Server | undefined;
    try {
      await dp.start();
      const { port } = await dp.add({ listen: { host: "127.0.0.1", port: 0 }, upstream: { host: "127.0.0.1", port: app.port }, alpn: [], creds: checkCredentials(creds) });
      const starts = dp.starts;
      process.kill(dp.pid!, "SIGKILL");
      // Take its port before it is started again (1 s later).
      squatter = await eventually(
        () =>
          new Promise<Server>((resolve, reject) => {
            const s = createServer();
            s.once("error", reject);
            s.listen(port, "127.0.0.1", () => resolve(s));
          }),
        { timeoutMs: 900, intervalMs: 10 },
      );
      await eventually(() => {
        expect(dp.starts).toBe(starts + 1);
        expect([...dp.notServed().values()][0]).toMatch(/Address already in use/);
      }, { timeoutMs: 10_000 });
      await new Promise<void>((r) => squatter!.close(() => r()));
      squatter = undefined;
      await eventually(() => expect(dp.notServed().size).toBe(0), { timeoutMs: 15_000 });
      const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
      s.end("back");
      expect((await readAll(s)).toString()).toBe("backbye");
    } finally {
      squatter?.close();
      await dp.close();
    }
  });

  it.each([
    { when: "the binary was not built", opts: { nativeBinary: null, logger: silentLogger }, guid: "no-native", payload: "x" },
    { when: "the binary cannot start", opts: { nativeBinary: "/nonexistent/weft-tlsd" }, guid: "bad-native", payload: "y" },
  ])("serves with node:tls when $when", async ({ opts, guid, payload }) => {
    const h = await startHarness(opts);
    try {
      expect(h.sidecar.native).toBeUndefined();
      const port = await h.put({ credentials: creds, appPort: app.port, guid });
      const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
      s.end(payload);
      expect((await readAll(s)).toString()).toBe(`${payload}bye`);
    } finally {
      await h.stop();
    }
  });
});
