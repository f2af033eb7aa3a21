// A real `weft control` process on the embedded store, on ports of its own (the default gRPC
// 0.0.0.0:4003 would collide with any other control on the machine), and the `weft` CLI pointed
// at it, for black-box CLI tests.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { eventually } from "../../common/eventually.js";
import { packageRoot } from "../../common/package-root.js";
import { freePort } from "./free-port.js";

const run = promisify(execFile);
export const WEFT = join(packageRoot(), "bin", "weft.js");

export interface CliControl {
  readonly dataDir: string;
  /** The environment that points the CLI at this control. */
  readonly env: NodeJS.ProcessEnv;
  /** Runs `weft ARGS` with `env` (plus `extraEnv`); rejects when it exits non-zero. */
  weft(args: readonly string[], extraEnv?: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }>;
  /** Runs `weft ARGS`, which must fail; resolves its exit code and stderr. */
  weftFails(args: readonly string[]): Promise<{ code: number; stderr: string }>;
  stop(): Promise<void>;
}

export async function startCliControl(): Promise<CliControl> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-cli-"));
  const [api, ops, grpc] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, [WEFT, "control", "--data-dir", dataDir, "--listen", `127.0.0.1:${api}`, "--ops-listen", `127.0.0.1:${ops}`, "--grpc-listen", `127.0.0.1:${grpc}`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const env = { ...process.env, WEFT_API: `https://127.0.0.1:${api}`, WEFT_DATA_DIR: dataDir };
  try {
    await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${ops}/health`);
        if (res.status !== 200) throw new Error(`health ${res.status}`);
      },
      { timeoutMs: 60_000, intervalMs: 200, message: "weft control healthy" },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  const weft = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) => run(process.execPath, [WEFT, ...args], { env: { ...env, ...extraEnv } });
  return {
    dataDir,
    env,
    weft,
    async weftFails(args) {
      try {
        await weft(args);
      } catch (err) {
        return err as { code: number; stderr: string };
      }
      throw new Error(`weft ${args.join(" ")} should have failed`);
    },
    stop,
  };
}
