// `weft agent`: one per cell (as root). Joins control once with a join token, then holds the
// cell's lease, programs its overlay and policies in the kernel, and serves weft-cni.
import { hostname } from "node:os";
import { Command, Option } from "commander";
import { createLogger } from "../../common/logger.js";
import { parseHostPort } from "../../common/ops-server.js";
import { AGENT_DEFAULTS, type AgentConfig } from "../../cni/agent/agent-config.js";

interface AgentFlags {
  cellId: string;
  underlayIp: string;
  underlayDev: string;
  netns: string;
  stateDir: string;
  socket: string;
  api?: string;
  apiCa?: string;
  joinToken?: string;
  grpcEndpoint?: string;
  overlayNetwork: string;
  searchDomain?: string[];
  sidecarDir?: string;
  waitForSidecar?: boolean;
  opsListen: string;
  logLevel: string;
  hostTcpService?: string[];
  hostUdpService?: string[];
  asgLogging?: boolean;
}

function hostServices(flags: AgentFlags): { ip: string; protocol: "tcp" | "udp"; port: number }[] {
  const parse = (v: string, protocol: "tcp" | "udp") => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(v);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) throw new Error(`invalid --host-${protocol}-service ${JSON.stringify(v)}: expected IP:PORT`);
    return { ip: m[1]!, protocol, port };
  };
  return [...(flags.hostTcpService ?? []).map((v) => parse(v, "tcp")), ...(flags.hostUdpService ?? []).map((v) => parse(v, "udp"))];
}

const collect = (v: string, acc: string[] = []) => [...acc, v];

export function agentCommand(): Command {
  return new Command("agent")
    .description("run a cell's agent: lease, VXLAN overlay, policy enforcement, and the CNI plugin's socket (root)")
    .requiredOption("--underlay-ip <ip>", "this cell's underlay address (VXLAN endpoint)")
    .requiredOption("--underlay-dev <dev>", "this cell's underlay device")
    .option("--cell-id <id>", "this cell's id", hostname())
    .option("--netns <path>", "the cell's network namespace", "/proc/self/ns/net")
    .option("--state-dir <dir>", "state: credentials, containers, addresses", AGENT_DEFAULTS.stateDir)
    .option("--socket <path>", "the CNI plugin's unix socket", AGENT_DEFAULTS.socketPath)
    .option("--api <url>", "control's REST API (to join)")
    .option("--api-ca <file>", "CA for the API's certificate (to join)")
    .option("--join-token <token>", "one-time join token (weft token create --join)")
    .option("--grpc-endpoint <host:port>", "control's gRPC endpoint, if not the one it advertises")
    .option("--overlay-network <cidr>", "the overlay network", AGENT_DEFAULTS.overlayNetwork)
    .option("--search-domain <domain>", "DNS search domain given to containers (repeatable)", collect)
    .option("--sidecar-dir <dir>", "the TLS sidecar's channel directory (no sidecar when absent)")
    .option("--wait-for-sidecar", "ADD returns only once the sidecar serves the container's certificate")
    .option("--ops-listen <host:port>", "metrics and health listen address", AGENT_DEFAULTS.opsListen)
    .option("--host-tcp-service <ip:port>", "a TCP service on the cell host containers may reach (repeatable; DNS on 169.254.0.2:53 always)", collect)
    .option("--host-udp-service <ip:port>", "a UDP service on the cell host containers may reach (repeatable)", collect)
    .option("--asg-logging", "log every new egress connection, accepted or denied (rate-limited kernel log with app, space and org)")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error"]).default("info"))
    .action(async (flags: AgentFlags) => {
      const config: AgentConfig = Object.freeze({
        cellId: flags.cellId,
        underlayIp: flags.underlayIp,
        underlayDev: flags.underlayDev,
        netns: flags.netns,
        stateDir: flags.stateDir,
        socketPath: flags.socket,
        ...(flags.api ? { apiUrl: flags.api } : {}),
        ...(flags.apiCa ? { apiCaFile: flags.apiCa } : {}),
        ...(flags.joinToken ? { joinToken: flags.joinToken } : {}),
        ...(flags.grpcEndpoint ? { grpcEndpoint: flags.grpcEndpoint } : {}),
        overlayNetwork: flags.overlayNetwork,
        searchDomains: flags.searchDomain ?? [...AGENT_DEFAULTS.searchDomains],
        ...(flags.sidecarDir ? { sidecarDir: flags.sidecarDir } : {}),
        waitForSidecar: Boolean(flags.waitForSidecar),
        addTimeoutMs: AGENT_DEFAULTS.addTimeoutMs,
        reconcileEveryMs: AGENT_DEFAULTS.reconcileEveryMs,
        opsListen: parseHostPort(flags.opsListen, "127.0.0.1"),
        hostServices: hostServices(flags),
        asgLogging: Boolean(flags.asgLogging),
      });
      const logger = createLogger({ level: flags.logLevel as "info", name: "weft-agent" });
      const { startAgent } = await import("../../cni/agent/main.js");
      const running = await startAgent(config, logger);
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", () => resolve());
        process.once("SIGINT", () => resolve());
      });
      await running.stop();
      logger.flush();
    });
}
