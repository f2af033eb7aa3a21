// Parses and validates one CNI invocation (the CNI_* environment, carried by the plugin as headers,
// and the network configuration JSON) into a typed command, per CNI spec 1.0.0 with STATUS and GC
// from 1.1.0. Each problem is the spec's error code with a message naming the field. App metadata
// comes from runtimeConfig.metadata, or from args.cni, or from CNI_ARGS (WEFT_* keys), in that order.
import { CNI_CODES, CniError } from "./cni-error.js";

export const SUPPORTED_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type CniCommand = "ADD" | "DEL" | "CHECK" | "VERSION" | "STATUS" | "GC";
const COMMANDS: readonly string[] = ["ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC"];
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IFNAME = /^[^/:\s]{1,15}$/;
const GUID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;

export interface CniEnv {
  readonly command: string;
  readonly containerId: string;
  readonly netns: string;
  readonly ifname: string;
  readonly args: string;
  readonly path: string;
}

export interface PortMapping {
  readonly hostPort: number;
  readonly containerPort: number;
  readonly protocol: "tcp" | "udp";
  readonly hostIP?: string;
}

export interface AppMetadata {
  readonly appGuid: string;
  readonly appName: string;
  readonly spaceGuid: string;
  readonly orgGuid: string;
  readonly instanceGuid: string;
  readonly instanceIndex: number;
  readonly ports: readonly number[];
  readonly lifecycle: "running" | "staging" | "task";
}

export interface NetworkConfig {
  readonly cniVersion: string;
  readonly name: string;
  readonly type: string;
  readonly mtu?: number;
  readonly portMappings: readonly PortMapping[];
  readonly metadata?: AppMetadata;
  readonly prevResult?: unknown;
  /** GC (1.1): attachments the runtime still has. */
  readonly validAttachments?: readonly { containerId: string; ifname: string }[];
}

export type CniRequest =
  | { readonly command: "VERSION"; readonly cniVersion: string }
  | { readonly command: "STATUS" | "GC"; readonly config: NetworkConfig }
  | { readonly command: "ADD" | "CHECK"; readonly config: NetworkConfig; readonly containerId: string; readonly netns: string; readonly ifname: string }
  | { readonly command: "DEL"; readonly config: NetworkConfig; readonly containerId: string; readonly netns: string; readonly ifname: string };

const invalid = (msg: string, details = "") => new CniError(CNI_CODES.INVALID_NETWORK_CONFIG, msg, details);

function record(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function port(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) throw invalid(`invalid ${field}: must be an integer 1-65535`);
  return v;
}

function parsePortMappings(v: unknown): PortMapping[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid("invalid runtimeConfig.portMappings: must be a list");
  if (v.length > 64) throw invalid("invalid runtimeConfig.portMappings: at most 64 mappings");
  return v.map((m, i) => {
    const r = record(m);
    if (!r) throw invalid(`invalid runtimeConfig.portMappings[${i}]: must be an object`);
    const protocol = r.protocol === undefined ? "tcp" : r.protocol;
    if (protocol !== "tcp" && protocol !== "udp") throw invalid(`invalid runtimeConfig.portMappings[${i}].protocol: must be tcp or udp`);
    const containerPort = port(r.containerPort, `runtimeConfig.portMappings[${i}].containerPort`);
    if (containerPort === 61443) throw invalid(`invalid runtimeConfig.portMappings[${i}].containerPort: 61443 is the TLS sidecar's port`);
    return {
      hostPort: port(r.hostPort, `runtimeConfig.portMappings[${i}].hostPort`),
      containerPort,
      protocol,
      ...(typeof r.hostIP === "string" && r.hostIP !== "" ? { hostIP: r.hostIP } : {}),
    };
  });
}

function parseCniArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of args.split(";")) {
    if (pair === "") continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, "invalid CNI_ARGS: expected K=V pairs separated by ;");
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function guid(v: unknown, field: string): string {
  if (typeof v !== "string" || !GUID.test(v)) throw invalid(`invalid ${field}: must be 1-255 characters of letters, digits and . _ : @ -`);
  return v;
}

/** Metadata from runtimeConfig.metadata, args.cni, or CNI_ARGS, with CF's key names. */
function parseMetadata(runtime: Record<string, unknown> | undefined, argsCni: Record<string, unknown> | undefined, cniArgs: Record<string, string>): AppMetadata | undefined {
  const fromArgs: Record<string, unknown> = {};
  const keys = { app_id: "WEFT_APP_ID", app_name: "WEFT_APP_NAME", space_id: "WEFT_SPACE_ID", org_id: "WEFT_ORG_ID", instance_id: "WEFT_INSTANCE_ID", instance_index: "WEFT_INSTANCE_INDEX", ports: "WEFT_PORTS", lifecycle: "WEFT_LIFECYCLE" };
  for (const [k, env] of Object.entries(keys)) if (cniArgs[env] !== undefined) fromArgs[k] = cniArgs[env];
  const m = record(runtime?.metadata) ?? record(argsCni?.metadata) ?? argsCni ?? (Object.keys(fromArgs).length ? fromArgs : undefined);
  if (!m || m.app_id === undefined) return undefined;
  const where = runtime?.metadata ? "runtimeConfig.metadata" : argsCni ? "args.cni" : "CNI_ARGS";
  const index = typeof m.instance_index === "string" ? Number(m.instance_index) : m.instance_index ?? 0;
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0) throw invalid(`invalid ${where}.instance_index: must be a non-negative integer`);
  const rawPorts = typeof m.ports === "string" ? m.ports.split(",").filter(Boolean).map(Number) : m.ports ?? [8080];
  if (!Array.isArray(rawPorts)) throw invalid(`invalid ${where}.ports: must be a list of ports`);
  const ports = rawPorts.map((p: unknown, i) => port(p, `${where}.ports[${i}]`));
  if (ports.includes(61443)) throw invalid(`invalid ${where}.ports: an app may not claim 61443 (the TLS sidecar's port)`);
  const lifecycle = m.lifecycle ?? "running";
  if (lifecycle !== "running" && lifecycle !== "staging" && lifecycle !== "task") throw invalid(`invalid ${where}.lifecycle: must be running, staging or task`);
  return {
    appGuid: guid(m.app_id, `${where}.app_id`),
    appName: typeof m.app_name === "string" ? m.app_name : "",
    spaceGuid: guid(m.space_id, `${where}.space_id`),
    orgGuid: guid(m.org_id, `${where}.org_id`),
    instanceGuid: m.instance_id === undefined ? "" : guid(m.instance_id, `${where}.instance_id`),
    instanceIndex: index,
    ports,
    lifecycle,
  };
}

export function parseCniRequest(env: CniEnv, body: string): CniRequest {
  if (!COMMANDS.includes(env.command)) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, `invalid CNI_COMMAND ${JSON.stringify(env.command)}`);
  const command = env.command as CniCommand;
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    if (command === "VERSION") return { command, cniVersion: "1.1.0" };
    throw new CniError(CNI_CODES.DECODE_FAILED, "failed to decode the network configuration", (err as Error).message);
  }
  const cfg = record(json);
  if (!cfg) throw new CniError(CNI_CODES.DECODE_FAILED, "the network configuration must be a JSON object");
  const cniVersion = cfg.cniVersion;
  if (command === "VERSION") return { command, cniVersion: typeof cniVersion === "string" ? cniVersion : "1.1.0" };
  if (typeof cniVersion !== "string" || cniVersion === "") throw invalid("missing cniVersion");
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(cniVersion)) {
    throw new CniError(CNI_CODES.INCOMPATIBLE_VERSION, `incompatible CNI version ${cniVersion}`, `supported: ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  if (typeof cfg.name !== "string" || cfg.name === "") throw invalid("missing name");
  if (cfg.type !== "weft") throw invalid(`invalid type ${JSON.stringify(cfg.type)}: this plugin is "weft"`);
  if (cfg.mtu !== undefined && (typeof cfg.mtu !== "number" || !Number.isInteger(cfg.mtu) || cfg.mtu < 576 || cfg.mtu > 9000)) throw invalid("invalid mtu: must be an integer 576-9000");
  if (cfg.ipam !== undefined) throw new CniError(CNI_CODES.UNSUPPORTED_FIELD, "unsupported field ipam: weft allocates addresses in the cell's lease");
  const runtime = record(cfg.runtimeConfig);
  const argsCni = record(record(cfg.args)?.cni);
  const config: NetworkConfig = {
    cniVersion,
    name: cfg.name,
    type: "weft",
    ...(cfg.mtu !== undefined ? { mtu: cfg.mtu } : {}),
    portMappings: parsePortMappings(runtime?.portMappings),
    ...(cfg.prevResult !== undefined ? { prevResult: cfg.prevResult } : {}),
  };
  if (command === "STATUS") return { command, config };
  if (command === "GC") {
    const list = cfg["cni.dev/valid-attachments"] ?? cfg["cni.dev/attachments"];
    if (list !== undefined && !Array.isArray(list)) throw invalid("invalid cni.dev/valid-attachments: must be a list");
    const validAttachments = (list ?? []).map((a: unknown, i) => {
      const r = record(a);
      if (!r || typeof r.containerID !== "string" || typeof r.ifname !== "string") throw invalid(`invalid cni.dev/valid-attachments[${i}]`);
      return { containerId: r.containerID, ifname: r.ifname };
    });
    return { command, config: { ...config, validAttachments } };
  }
  if (!CONTAINER_ID.test(env.containerId)) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, "invalid CNI_CONTAINERID", JSON.stringify(env.containerId.slice(0, 100)));
  if (!IFNAME.test(env.ifname)) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, "invalid CNI_IFNAME: 1-15 characters, no / : or spaces");
  if (command !== "DEL" && !env.netns.startsWith("/")) throw new CniError(CNI_CODES.INVALID_ENVIRONMENT, "invalid CNI_NETNS: must be an absolute path");
  const metadata = parseMetadata(runtime, argsCni, parseCniArgs(env.args));
  if (command === "ADD" && !metadata) throw invalid("missing app metadata: runtimeConfig.metadata (or args.cni, or CNI_ARGS WEFT_*) with app_id, space_id and org_id");
  const withMeta: NetworkConfig = { ...config, ...(metadata ? { metadata: { ...metadata, instanceGuid: metadata.instanceGuid || env.containerId } } : {}) };
  return { command, config: withMeta, containerId: env.containerId, netns: env.netns, ifname: env.ifname };
}
