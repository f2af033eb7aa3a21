// `weft up` as an operator runs it (root, real processes, namespaces with a unique wt prefix): in
// the foreground it stays up until Ctrl-C, which removes what it made; crashed (SIGKILL) halfway, the
// next `weft up` removes the leftovers and comes up with every check passing; the CLI finds the mesh
// by itself; and `weft down` leaves no namespace, /etc/netns entry or process behind.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { packageRoot } from "../common/package-root.js";
import { processStartTime, type UpState } from "../cli/up/state.js";
import { listNamespaces } from "../cli/up/teardown.js";
import { freePort } from "./support/free-port.js";

const run = promisify(execFile);
const WEFT = join(packageRoot(), "bin", "weft.js");

describe.runIf(process.getuid?.() === 0)("weft up / weft down", () => {
  const prefix = `wt${randomBytes(3).toString("hex")}`.replace(/^wt(\d)/, "wtx$1");
  const stateDir = mkdtempSync(join(tmpdir(), "weft-up-test-"));
  const underlay = `10.214.${1 + (randomBytes(1)[0]! % 250)}.0/24`;
  let apiPort = 0;
  const args = () => ["--state-dir", stateDir, "--prefix", prefix, "--underlay", underlay, "--api-port", String(apiPort), "--no-install"];
  const ours = async () => (await listNamespaces()).filter((n) => n.startsWith(`${prefix}-`));
  const recorded = (): UpState | undefined => {
    try {
      return JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as UpState;
    } catch {
      return undefined;
    }
  };
  const liveProcesses = (s: UpState | undefined) => (s?.processes ?? []).filter((p) => processStartTime(p.pid) === p.startTime);

  /** `weft up` in the foreground; resolves once a stdout line matches. */
  const upUntil = async (pattern: RegExp): Promise<{ child: ChildProcess; out: () => string }> => {
    const child = spawn(process.execPath, [WEFT, "up", ...args()], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    await eventually(
      () => {
        if (child.exitCode !== null) throw new Error(`weft up exited ${child.exitCode}: ${out}`);
        if (!pattern.test(out)) throw new Error(`not yet: ${out}`);
      },
      { timeoutMs: 180_000, intervalMs: 100, message: `weft up to print ${pattern}` },
    );
    return { child, out: () => out };
  };
  const exited = (child: ChildProcess) =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise<number | null>((r) => child.once("exit", (code) => r(code)));

  afterAll(async () => {
    await run(process.execPath, [WEFT, "down", "--state-dir", stateDir, "--prefix", prefix]).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("in the foreground it stays up until Ctrl-C, which removes everything", async () => {
    apiPort = await freePort();
    const { child, out } = await upUntil(/Press Ctrl-C/);
    expect(out()).toMatch(/All 9 checks passed\./);
    const state = recorded();
    expect(state?.namespaces.length).toBeGreaterThan(0);
    expect(liveProcesses(state).length).toBeGreaterThan(0);
    child.kill("SIGINT");
    expect(await exited(child)).toBe(130);
    expect(await ours()).toEqual([]);
    expect(liveProcesses(state)).toEqual([]);
  });

  it("after a crash halfway, the next weft up removes the leftovers and proves the mesh works", async () => {
    apiPort = await freePort();
    const { child } = await upUntil(/cells joined/);
    child.kill("SIGKILL");
    await exited(child);
    const crashed = recorded();
    expect((await ours()).length).toBeGreaterThanOrEqual(3);
    expect(liveProcesses(crashed).length).toBeGreaterThan(0);

    const { stdout } = await run(process.execPath, [WEFT, "up", "--detach", ...args()], { timeout: 240_000 });
    expect(stdout).toMatch(/removed leftovers of an earlier run/);
    expect(stdout).toMatch(/All 9 checks passed\./);
    expect(stdout).not.toMatch(/FAIL/);
    expect(liveProcesses(crashed)).toEqual([]);
    expect((await ours()).sort()).toEqual([`${prefix}-a-0`, `${prefix}-b-0`, `${prefix}-b-1`, `${prefix}-c-0`, `${prefix}-cell-1`, `${prefix}-cell-2`, `${prefix}-u`].sort());
  });

  it("the CLI finds the up-mesh by itself", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, WEFT_UP_DIR: stateDir };
    delete env.WEFT_API;
    delete env.WEFT_DATA_DIR;
    const status = await run(process.execPath, [WEFT, "status"], { env });
    expect(status.stdout).toMatch(/cell-1\s+\S+\s+yes/);
    expect(status.stdout).toMatch(/cell-2\s+\S+\s+yes/);
    const policies = await run(process.execPath, [WEFT, "policy", "list"], { env });
    expect(policies.stdout.split("\n").filter((l) => /^a\s+[bc]\s+tcp\s+(8080|61443)\b/.test(l))).toHaveLength(4);
  });

  it("weft down removes every namespace, /etc/netns entry and process", async () => {
    const state = recorded();
    expect(liveProcesses(state).length).toBeGreaterThanOrEqual(10);
    const { stdout } = await run(process.execPath, [WEFT, "down", "--state-dir", stateDir]);
    expect(stdout).toMatch(/Removed 7 namespaces and \d+ processes/);
    expect(await ours()).toEqual([]);
    expect(liveProcesses(state)).toEqual([]);
    for (const dir of state?.etcNetns ?? []) expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(stateDir, "state.json"))).toBe(false);
    expect((await run(process.execPath, [WEFT, "down", "--state-dir", stateDir])).stdout).toMatch(/Nothing to remove/);
  });
});
