// Small servers and clients that kernel tests and the benchmark start inside namespaces. Each is a
// `node -e` one-liner, so nothing but Node is needed. Servers answer every line or datagram with
// `pong:<peer address>`, which is how a test sees the source IP the destination observed.
import type { ChildProcess } from "node:child_process";
import { eventually } from "../../common/eventually.js";
import type { Namespace, NetnsFixture } from "./netns-fixture.js";

const SERVER = `
const net = require("net"), dgram = require("dgram");
const [ip, tcp, udp] = process.argv.slice(1);
let pending = 0;
const ready = () => { if (--pending === 0) console.log("ready"); };
for (const p of tcp ? tcp.split(",") : []) {
  pending++;
  net.createServer((s) => {
    s.on("error", () => {});
    s.on("data", () => s.write("pong:" + s.remoteAddress + "\\n"));
  }).listen(Number(p), ip, ready);
}
for (const p of udp ? udp.split(",") : []) {
  pending++;
  const u = dgram.createSocket("udp4");
  u.on("message", (m, r) => u.send("pong:" + r.address + "\\n", r.port, r.address));
  u.bind(Number(p), ip, ready);
}`;

const CLIENT = `
const net = require("net"), dgram = require("dgram");
const [proto, ip, port, mode] = process.argv.slice(1);
const done = (line, code) => { console.log(line); process.exit(code); };
setTimeout(() => done("error:TIMEOUT", 2), mode === "stream" ? 600000 : 2000);
if (proto === "tcp") {
  const s = net.connect(Number(port), ip);
  s.setNoDelay(true);
  s.on("connect", () => {
    s.write("ping\\n");
    if (mode === "stream") { console.log("connected"); setInterval(() => s.write("ping\\n"), 50); }
  });
  s.on("data", (d) => {
    if (mode !== "stream") done(String(d).trim().split("\\n")[0], 0);
    else process.stdout.write(String(d));
  });
  s.on("error", (e) => done("error:" + (e.code || e.message), 1));
  s.on("close", () => done("error:CLOSED", 1));
} else {
  const u = dgram.createSocket("udp4");
  u.on("error", (e) => done("error:" + (e.code || e.message), 1));
  u.on("message", (m) => { if (mode === "stream") process.stdout.write(String(m)); else done(String(m).trim(), 0); });
  u.connect(Number(port), ip, () => {
    const send = () => u.send("ping\\n", (e) => { if (e) done("error:" + (e.code || e.message), 1); });
    send();
    setInterval(send, mode === "stream" ? 50 : 300);
    if (mode === "stream") console.log("connected");
  });
}`;

export type Proto = "tcp" | "udp";

export interface ServerPorts {
  readonly tcp?: readonly number[];
  readonly udp?: readonly number[];
}

/** Starts a server inside `ns` bound to `ip` and waits until it listens. */
export async function startServer(fx: NetnsFixture, ns: Namespace, ip: string, ports: ServerPorts): Promise<ChildProcess> {
  const child = fx.spawn(ns, ["node", "-e", SERVER, ip, (ports.tcp ?? []).join(","), (ports.udp ?? []).join(",")]);
  let out = "";
  let err = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  await eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
      if (!out.includes("ready")) throw new Error("not listening yet");
    },
    { timeoutMs: 10_000, message: `server in ${ns.name}` },
  );
  return child;
}

/** One request: resolves to `pong:<source ip seen by the server>` or `error:<CODE>`. */
export async function probe(fx: NetnsFixture, ns: Namespace, proto: Proto, ip: string, port: number): Promise<string> {
  const child = fx.spawn(ns, ["node", "-e", CLIENT, proto, ip, String(port)]);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve) => {
    child.on("close", () => resolve());
    child.on("error", () => resolve());
  });
  return out.trim().split("\n")[0] ?? "error:NO_OUTPUT";
}

export interface Stream {
  readonly child: ChildProcess;
  /** Lines received so far. */
  readonly lines: string[];
  readonly closed: () => boolean;
}

/** A long-lived connection sending a ping every 50 ms, for connection-cut tests. */
export async function openStream(fx: NetnsFixture, ns: Namespace, proto: Proto, ip: string, port: number): Promise<Stream> {
  const child = fx.spawn(ns, ["node", "-e", CLIENT, proto, ip, String(port), "stream"]);
  const lines: string[] = [];
  let buf = "";
  child.stdout?.on("data", (b: Buffer) => {
    buf += b.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts.filter(Boolean));
  });
  const stream = { child, lines, closed: () => child.exitCode !== null || lines.some((l) => l.startsWith("error:")) };
  await eventually(
    () => {
      if (!lines.some((l) => l.startsWith("pong:"))) throw new Error(`no reply yet: ${lines.join(" ")}`);
    },
    { timeoutMs: 10_000, message: "stream established" },
  );
  return stream;
}
