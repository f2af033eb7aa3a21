// `weft dns` through the real bin/weft.js: it runs as a child node process with the flags of
// cli/node-flags.ts, answers, stops on SIGTERM with its launcher, and stops by itself when the
// launcher is killed outright.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { DNS_NODE_FLAGS, missingNodeFlags } from "../cli/node-flags.js";
import { buildQuery, rcodeOf, udpExchange } from "../dns/test-support/raw-client.js";
import { WEFT } from "./support/cli-control.js";

interface Launched {
  readonly launcher: ChildProcess;
  readonly serverPid: number;
  readonly udpPort: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Launched[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function launchDns(): Promise<Launched> {
  const launcher = spawn(process.execPath, [WEFT, "dns", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--log-level", "info"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => launcher.once("exit", (code, signal) => resolve({ code, signal })));
  let out = "";
  launcher.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const line = await eventually(
    () => {
      const found = out.split("\n").find((l) => l.includes('"dns-started"'));
      if (!found) throw new Error(`no dns-started line yet: ${out.slice(-300)}`);
      return JSON.parse(found) as { pid: number; udpPort: number };
    },
    { timeoutMs: 20_000, message: "weft dns to start" },
  );
  const launched = { launcher, serverPid: line.pid, udpPort: line.udpPort, exited };
  started.push(launched);
  return launched;
}

afterEach(() => {
  for (const l of started.splice(0)) {
    for (const pid of [l.launcher.pid, l.serverPid]) if (pid !== undefined && alive(pid)) process.kill(pid, "SIGKILL");
  }
});

describe("weft dns launcher", () => {
  it("needs flags for dns only, and none it was started with", () => {
    expect(missingNodeFlags(["dns", "--listen", "127.0.0.1:53"], [])).toEqual([...DNS_NODE_FLAGS]);
    expect(missingNodeFlags(["dns"], [...DNS_NODE_FLAGS])).toEqual([]);
    expect(missingNodeFlags(["control"], [])).toEqual([]);
    expect(missingNodeFlags([], [])).toEqual([]);
  });

  it("runs the server with its Node flags, answering, and stops with the launcher on SIGTERM", async () => {
    const dns = await launchDns();
    expect(dns.serverPid).not.toBe(dns.launcher.pid);
    const cmdline = readFileSync(`/proc/${dns.serverPid}/cmdline`, "utf8").split("\0");
    for (const flag of DNS_NODE_FLAGS) expect(cmdline).toContain(flag);
    // No registry fed: an internal name gets SERVFAIL, which proves the server answers.
    const reply = await udpExchange(dns.udpPort, buildQuery("a.apps.internal"), 5000);
    expect(reply).toBeDefined();
    expect(rcodeOf(reply!)).toBe(2);
    dns.launcher.kill("SIGTERM");
    expect(await dns.exited).toEqual({ code: 0, signal: null });
    await eventually(() => expect(alive(dns.serverPid)).toBe(false), { message: "the server to exit" });
  });

  it("the server stops by itself when its launcher is killed", async () => {
    const dns = await launchDns();
    dns.launcher.kill("SIGKILL");
    await dns.exited;
    await eventually(() => expect(alive(dns.serverPid)).toBe(false), { timeoutMs: 15_000, message: "the orphaned server to exit" });
  });
});
