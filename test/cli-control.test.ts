// Black-box: the README's main command (`weft control` on the embedded store) started as a real
// process, driven through the `weft` CLI as a user would.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/free-port.js";
import { eventually } from "../common/eventually.js";
import { packageRoot } from "../common/package-root.js";

const run = promisify(execFile);
const WEFT = join(packageRoot(), "bin", "weft.js");


describe("weft control + CLI", () => {
  let dataDir: string;
  let child: ChildProcess;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "weft-cli-"));
    const [api, ops, grpc] = [await freePort(), await freePort(), await freePort()];
    // Every port its own: the default gRPC 0.0.0.0:4003 collides with any other control on this machine.
    child = spawn(process.execPath, [WEFT, "control", "--data-dir", dataDir, "--listen", `127.0.0.1:${api}`, "--ops-listen", `127.0.0.1:${ops}`, "--grpc-listen", `127.0.0.1:${grpc}`], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    env = { ...process.env, WEFT_API: `https://127.0.0.1:${api}`, WEFT_DATA_DIR: dataDir };
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${ops}/health`);
      expect(res.status).toBe(200);
    }, { timeoutMs: 60_000, intervalMs: 200 });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const weft = async (...args: string[]) => run(process.execPath, [WEFT, ...args], { env });
  const weftFails = async (...args: string[]) => {
    try {
      await weft(...args);
    } catch (err) {
      return err as { code: number; stderr: string };
    }
    throw new Error(`weft ${args.join(" ")} should have failed`);
  };

  it("registers apps, adds, lists and removes policies by app name", async () => {
    await weft("app", "register", "frontend", "--guid", "guid-frontend", "--space", "space-1", "--org", "org-1");
    await weft("app", "register", "backend", "--guid", "guid-backend", "--space", "space-1", "--org", "org-1");
    expect((await weft("policy", "add", "frontend", "--destination-app", "backend")).stdout).toMatch(/Added policy frontend -> backend tcp 8080/);
    await weft("policy", "add", "frontend", "--destination-app", "backend", "--protocol", "udp", "--port", "9000-9010");
    const table = (await weft("policy", "list")).stdout;
    expect(table.split("\n")[0]).toMatch(/^source\s+destination\s+protocol\s+ports\s+destination space\s+destination org$/);
    expect(table).toMatch(/frontend\s+backend\s+tcp\s+8080\s+space-1\s+org-1/);
    expect(table).toMatch(/frontend\s+backend\s+udp\s+9000-9010/);
    const json = JSON.parse((await weft("policy", "list", "--source", "frontend", "--json")).stdout) as { total_policies: number };
    expect(json.total_policies).toBe(2);
    await weft("policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "udp", "--port", "9000-9010");
    expect(JSON.parse((await weft("policy", "list", "--json")).stdout)).toMatchObject({ total_policies: 1 });
  });

  it("fails with one clear line and a non-zero exit", async () => {
    const unknown = await weftFails("policy", "add", "frontend", "--destination-app", "nope");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr.trim()).toBe("weft: app 'nope' not found");
    const half = await weftFails("policy", "add", "frontend", "--destination-app", "backend", "--port", "80");
    expect(half.stderr.trim()).toBe("weft: Incorrect usage: --protocol and --port flags must be specified together");
    const missing = await weftFails("policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "81");
    expect(missing.stderr.trim()).toBe("weft: policy does not exist");
  });

  it("mints scoped tokens that the server honours", async () => {
    const token = (await weft("token", "create", "--data-dir", dataDir, "--scope", "network.write", "--space", "space-1", "--ttl", "10m")).stdout.trim();
    const listed = await run(process.execPath, [WEFT, "policy", "list", "--json"], { env: { ...env, WEFT_TOKEN: token } });
    expect(JSON.parse(listed.stdout)).toMatchObject({ total_policies: 1 });
    const denied = await run(process.execPath, [WEFT, "app", "register", "x", "--space", "space-2", "--org", "o"], { env: { ...env, WEFT_TOKEN: token } }).catch(
      (e: { stderr: string }) => e,
    );
    expect((denied).stderr).toMatch(/403/);
  });
});
