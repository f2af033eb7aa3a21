// Composition root of `weft agent`: the cell's credentials (joining control once with a join token,
// then the saved certificate), the kernel, the CellAgent, the CNI socket and the ops listener.
// stop() tears them down in reverse order; kernel state is left in place (fail static).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadCellCredentials, saveCellCredentials, type CellCredentials } from "../../common/cell-credentials.js";
import type { Logger } from "../../common/logger.js";
import { createMetricsRegistry, startOpsServer } from "../../common/ops-server.js";
import { CellUpkeep } from "../control-link/cell-upkeep.js";
import { ControlClient } from "../control-link/control-client.js";
import { joinCell } from "../control-link/join.js";
import { createLinuxKernel } from "../kernel/linux-kernel.js";
import type { AgentConfig } from "./agent-config.js";
import { CellAgent } from "./cell-agent.js";
import { handleCni } from "./cni-handlers.js";
import { startCniServer } from "./cni-server.js";

export interface RunningAgent {
  readonly agent: CellAgent;
  readonly credentialsDir: string;
  readonly opsPort: number;
  stop(): Promise<void>;
}

async function credentials(config: AgentConfig, dir: string, log: Logger): Promise<CellCredentials> {
  try {
    const creds = loadCellCredentials(dir);
    return config.grpcEndpoint ? { ...creds, grpcEndpoint: config.grpcEndpoint } : creds;
  } catch {
    if (!config.joinToken || !config.apiUrl) throw new Error(`the cell has no credentials in ${dir}: give --api and --join-token to join control`);
    const creds = await joinCell({
      apiUrl: config.apiUrl,
      token: config.joinToken,
      cellId: config.cellId,
      ...(config.apiCaFile ? { apiCaPem: readFileSync(config.apiCaFile, "utf8") } : {}),
      ...(config.grpcEndpoint ? { grpcEndpoint: config.grpcEndpoint } : {}),
    });
    saveCellCredentials(dir, creds);
    log.info({ cell: creds.cellId }, "cell-joined");
    return creds;
  }
}

export async function startAgent(config: AgentConfig, rootLogger: Logger): Promise<RunningAgent> {
  const log = rootLogger.child({ component: "agent", cell: config.cellId });
  const credentialsDir = join(config.stateDir, "cell");
  const creds = await credentials(config, credentialsDir, log);
  const client = new ControlClient(creds);
  const kernel = createLinuxKernel({ logger: log.child({ component: "kernel" }) });
  const upkeep = new CellUpkeep({ client, credentialsDir, credentials: creds, logger: log });
  const agent = new CellAgent(config, client, kernel, log, upkeep);
  const abort = new AbortController();
  // The CNI socket and the health endpoint come up first, so that while the lease cannot be had
  // (control away, the pool exhausted) a runtime's ADD and /health say why instead of failing to connect.
  const cni = await startCniServer(config.socketPath, (req) => handleCni(agent, req), log.child({ component: "cni" }));
  const ops = await startOpsServer({
    ...config.opsListen,
    registry: createMetricsRegistry("agent"),
    logger: log,
    health: () => {
      const problem = agent.readiness();
      return { healthy: problem === undefined, checks: { agent: { ok: problem === undefined, ...(problem ? { detail: problem } : {}) } } };
    },
  });
  try {
    await agent.start(abort.signal);
  } catch (err) {
    await ops.close();
    await cni.close();
    agent.stop();
    client.close();
    kernel.close();
    throw err;
  }
  return {
    agent,
    credentialsDir,
    opsPort: ops.port,
    async stop() {
      abort.abort();
      await ops.close();
      await cni.close();
      agent.stop();
      client.close();
      kernel.close();
      log.info("agent-stopped");
    },
  };
}
