// Real cell agents for data-plane tests: each cell namespace of a netns fixture gets a `weft agent`
// (in this process; its kernel work runs inside the cell's namespace) joined to a test control,
// and containers are attached by running the real weft-cni binary, as a container runtime would.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../common/logger.js";
import { packageRoot } from "../../common/package-root.js";
import type { AgentConfig } from "../../cni/agent/agent-config.js";
import { startAgent, type RunningAgent } from "../../cni/agent/main.js";
import type { TestControl } from "./control.js";
import type { Cell, Namespace, NetnsFixture } from "./netns-fixture.js";
import { joinToken } from "./plane.js";

export const WEFT_CNI = join(packageRoot(), "dist", "bin", "weft-cni");

export interface TestAgent {
  readonly running: RunningAgent;
  readonly cell: Cell;
  readonly socketPath: string;
  readonly dir: string;
  stop(): Promise<void>;
}

export async function startTestAgent(api: TestControl, cell: Cell, cellId: string, over: Partial<AgentConfig> = {}): Promise<TestAgent> {
  const dir = mkdtempSync(join(tmpdir(), "weft-agent-"));
  const caFile = join(dir, "api-ca.pem");
  writeFileSync(caFile, api.control.caCertPem);
  const socketPath = join(dir, "agent.sock");
  const running = await startAgent(
    Object.freeze({
      cellId,
      underlayIp: cell.underlayIp,
      underlayDev: cell.underlayDev,
      netns: cell.path,
      stateDir: join(dir, "state"),
      socketPath,
      apiUrl: api.baseUrl,
      apiCaFile: caFile,
      joinToken: await joinToken(api),
      overlayNetwork: "10.255.0.0/16",
      searchDomains: ["apps.internal"],
      waitForSidecar: false,
      addTimeoutMs: 20_000,
      reconcileEveryMs: 2_000,
      opsListen: { host: "127.0.0.1", port: 0 },
      ...over,
    }),
    silentLogger,
  );
  let stopped = false;
  return {
    running,
    cell,
    socketPath,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.stop();
    },
  };
}

export interface CniOutcome {
  readonly code: number;
  readonly json: Record<string, unknown> | undefined;
  readonly stdout: string;
}

/** Runs weft-cni like a runtime: CNI_* env and the network configuration on stdin. */
export function runCni(command: string, opts: { socketPath: string; containerId: string; netns?: string; ifname?: string; config?: Record<string, unknown>; args?: string }): Promise<CniOutcome> {
  const config = { cniVersion: "1.0.0", name: "weft", type: "weft", agentSocket: opts.socketPath, ...(opts.config ?? {}) };
  return new Promise((resolve) => {
    const child = execFile(
      WEFT_CNI,
      [],
      {
        env: {
          CNI_COMMAND: command,
          CNI_CONTAINERID: opts.containerId,
          CNI_NETNS: opts.netns ?? "",
          CNI_IFNAME: opts.ifname ?? "eth0",
          CNI_ARGS: opts.args ?? "",
          CNI_PATH: "/usr/lib/cni",
        },
        timeout: 60_000,
      },
      (err, stdout) => {
        let json: Record<string, unknown> | undefined;
        try {
          json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, json, stdout });
      },
    );
    child.stdin?.end(JSON.stringify(config));
  });
}

export const appMetadata = (app: string, index = 0, ports = [8080]) => ({ runtimeConfig: { metadata: { app_id: app, app_name: app, space_id: "space-1", org_id: "org-1", instance_index: index, ports } } });

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface AttachedContainer {
  readonly ns: Namespace;
  readonly ip: string;
}

/** A new container namespace attached through the real weft-cni ADD; throws if ADD fails. */
export async function attachContainer(fx: NetnsFixture, agent: TestAgent, id: string, app: string, index = 0): Promise<AttachedContainer> {
  const ns = await fx.addContainer();
  const res = await runCni("ADD", { socketPath: agent.socketPath, containerId: id, netns: ns.path, config: appMetadata(app, index) });
  if (res.code !== 0) throw new Error(`ADD ${id} failed: ${res.stdout}`);
  const ips = (res.json?.ips as { address: string }[] | undefined) ?? [];
  return { ns, ip: ips[0]!.address.split("/")[0]! };
}
