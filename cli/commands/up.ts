// `weft up`: a whole mesh on this machine (root): control on the embedded store, an underlay, cells
// with their agent, DNS server and sidecar, and the seed's example (apps A, B, C), then a table of
// checks that prove it works. `weft down` removes it. `weft up-bridge` (hidden) is the port bridge
// process the mesh runs. See cli/up/mesh.ts for the layout.
import { execFile } from "node:child_process";
import { mkdirSync, openSync, closeSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Command, Option } from "commander";
import { createLogger } from "../../common/logger.js";
import { parseHostPort } from "../../common/ops-server.js";
import { formatChecks, runChecks, type CheckResult } from "../up/checks.js";
import { deployExample, type Example } from "../up/example.js";
import { missingTools, startMesh, type Mesh } from "../up/mesh.js";
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, processStartTime, saveState } from "../up/state.js";
import { teardown } from "../up/teardown.js";

interface UpFlags {
  detach?: boolean;
  stateDir: string;
  prefix: string;
  underlay: string;
  apiPort: string;
  install: boolean;
}

const collect = (v: string, acc: string[] = []) => [...acc, v];

function aptInstall(pkgs: readonly string[], logFile: string): Promise<void> {
  const fd = openSync(logFile, "a");
  return new Promise<void>((resolveApt, reject) => {
    execFile(
      "sh",
      ["-c", `apt-get update -qq && apt-get install -y -qq ${pkgs.join(" ")}`],
      { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        closeSync(fd);
        if (err) reject(new Error(`apt-get install ${pkgs.join(" ")} failed: ${stderr.trim().split("\n").slice(-3).join(" ")}`));
        else resolveApt();
      },
    );
  });
}

export function upCommand(): Command {
  return new Command("up")
    .description("run a whole mesh on this machine (root): control, 2 cells, apps A, B and C, and checks that prove it works")
    .option("-d, --detach", "return once the mesh is up and leave it running (remove it with `weft down`)")
    .option("--state-dir <dir>", "state, control's data and process logs", DEFAULT_STATE_DIR)
    .option("--prefix <name>", "prefix of every network namespace the mesh makes", DEFAULT_PREFIX)
    .option("--underlay <cidr>", "underlay subnet (a /24, inside namespaces only)", "10.250.0.0/24")
    .option("--api-port <port>", "control's REST API port on 127.0.0.1", "4002")
    .option("--no-install", "do not apt-get install missing Debian packages (iproute2, nftables, conntrack)")
    .action(async (flags: UpFlags) => {
      const started = Date.now();
      const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s]`;
      const say = (line: string) => process.stdout.write(`  ${stamp()} ${line}\n`);
      const apiPort = Number(flags.apiPort);
      if (!Number.isInteger(apiPort) || apiPort < 1 || apiPort > 65535) throw new Error(`--api-port must be a port number, got ${JSON.stringify(flags.apiPort)}`);
      if (process.getuid?.() !== 0) throw new Error("weft up needs root (it makes network namespaces, veth pairs and nftables rules inside them)");
      const stateDir = resolve(flags.stateDir);
      const logs = join(stateDir, "logs");
      mkdirSync(logs, { recursive: true });
      process.stdout.write(`weft up: a mesh of 2 cells on this machine (state and logs in ${rel(stateDir)})\n`);

      const missing = await missingTools();
      if (missing.length > 0) {
        const pkgs = [...new Set(missing.map((m) => m.pkg))];
        if (!flags.install) throw new Error(`missing tools: ${missing.map((m) => m.tool).join(", ")}; install them with: apt-get install -y ${pkgs.join(" ")}`);
        say(`installing missing Debian packages: ${pkgs.join(" ")} (apt-get)`);
        await aptInstall(pkgs, join(logs, "apt.log"));
      }

      // Ctrl-C (or SIGTERM) at any point removes everything made so far.
      let stopping = false;
      const stopAll = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`\n${signal}: removing the mesh...\n`);
        const report = await teardown(stateDir, flags.prefix);
        // Anything made while the first pass ran (a namespace being added) goes in a second.
        const again = await teardown(stateDir, flags.prefix);
        process.stdout.write(`Removed ${report.namespaces.length + again.namespaces.length} namespaces and ${report.killed + again.killed} processes.\n`);
        process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGHUP" ? 1 : 15));
      };
      const onSignal = (signal: string) => void stopAll(signal).catch((err: unknown) => {
        process.stderr.write(`weft: teardown failed: ${err instanceof Error ? err.message : String(err)}; run weft down\n`);
        process.exit(1);
      });
      process.on("SIGINT", onSignal);
      process.on("SIGTERM", onSignal);
      process.on("SIGHUP", onSignal); // the terminal went away

      const mesh: Mesh = await startMesh({ stateDir, prefix: flags.prefix, underlay: flags.underlay, apiPort, cells: 2, progress: say });
      let example: Example;
      let results: CheckResult[];
      try {
        example = await deployExample(mesh, say);
        say("checking what works, from inside the containers...");
        results = await runChecks(mesh, example);
      } catch (err) {
        process.stdout.write(`weft up failed; removing the mesh (logs stay in ${rel(logs)})\n`);
        await mesh.stop();
        throw err;
      }
      mesh.state.status = "up";
      saveState(mesh.state);
      process.stdout.write(`\n${formatChecks(results)}`);
      const failed = results.some((r) => !r.pass);

      const sameDir = stateDir === resolve(DEFAULT_STATE_DIR);
      process.stdout.write(
        [
          "",
          `The mesh is up (control ${mesh.apiUrl}, logs in ${rel(logs)}).`,
          sameDir
            ? "From this folder the CLI finds it by itself:"
            : `Point the CLI at it: export WEFT_API=${mesh.apiUrl} WEFT_DATA_DIR=${mesh.controlDataDir}`,
          "  ./bin/weft.js status",
          "  ./bin/weft.js policy list",
          "  ./bin/weft.js app list",
          `Inside app A's container (its resolv.conf uses the cell's weft dns): ip netns exec ${example.a.ns} getent hosts b.apps.internal`,
          "",
        ].join("\n"),
      );
      if (flags.detach) {
        process.stdout.write("Left running. Remove it with: ./bin/weft.js down" + (sameDir ? "" : ` --state-dir ${rel(stateDir)}`) + "\n");
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        process.off("SIGHUP", onSignal);
        process.exitCode = failed ? 1 : 0;
        return;
      }
      process.stdout.write("Press Ctrl-C to stop it and remove everything it made.\n");
      // Stay in the foreground (the timer keeps the process alive) and say so when a process of the
      // mesh exits, once each, with where its log is.
      const reported = new Set<number>();
      setInterval(() => {
        for (const p of mesh.state.processes) {
          if (reported.has(p.pid) || processStartTime(p.pid) === p.startTime) continue;
          reported.add(p.pid);
          process.stdout.write(`${p.name} exited; see ${rel(join(logs, `${p.name}.log`))}\n`);
        }
      }, 2000);
      await new Promise<never>(() => undefined);
    });
}

function rel(p: string): string {
  const r = relative(process.cwd(), p);
  return r === "" ? "." : r.startsWith("..") ? p : r;
}

export function downCommand(): Command {
  return new Command("down")
    .description("remove the mesh `weft up` made: every namespace, link, rule and process, even after a crash")
    .option("--state-dir <dir>", "the mesh's state dir", DEFAULT_STATE_DIR)
    .option("--prefix <name>", "namespace prefix, when the state file is gone", DEFAULT_PREFIX)
    .action(async (flags: { stateDir: string; prefix: string }) => {
      if (process.getuid?.() !== 0) throw new Error("weft down needs root");
      const report = await teardown(resolve(flags.stateDir), flags.prefix);
      if (report.namespaces.length === 0 && report.killed === 0) process.stdout.write("Nothing to remove.\n");
      else process.stdout.write(`Removed ${report.namespaces.length} namespaces and ${report.killed} processes.\n`);
    });
}

export function upBridgeCommand(): Command {
  return new Command("up-bridge")
    .description("(internal, run by weft up) bridge loopback ports into cell namespaces")
    .requiredOption("--netns <path>", "a cell namespace (repeatable)", collect)
    .requiredOption("--port <port>", "a loopback port (repeatable)", collect)
    .option("--ready-file <file>", "written once every listener is up")
    .option("--ops-listen <host:port>", "metrics and health listen address", "127.0.0.1:0")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]).default("info"))
    .action(async (flags: { netns: string[]; port: string[]; readyFile?: string; opsListen: string; logLevel: string }) => {
      const ports = flags.port.map((p) => {
        const n = Number(p);
        if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`--port must be a port number, got ${JSON.stringify(p)}`);
        return n;
      });
      const logger = createLogger({ level: flags.logLevel as "info", name: "weft-up-bridge" });
      const { startBridge } = await import("../up/bridge.js");
      const running = await startBridge(
        { namespaces: flags.netns, ports, opsListen: parseHostPort(flags.opsListen, "127.0.0.1"), ...(flags.readyFile ? { readyFile: flags.readyFile } : {}) },
        logger,
      );
      await new Promise<void>((resolveStop) => {
        process.once("SIGTERM", () => resolveStop());
        process.once("SIGINT", () => resolveStop());
      });
      await running.stop();
      logger.flush();
    });
}
