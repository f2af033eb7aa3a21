// What every user command needs: where the API is, which token and CA to use. Resolved from
// flags, then the environment (read once in main.ts), then a running `weft up` mesh in
// .weft/up (its API URL and its control's data dir), then the local control data dir
// .weft/control (its admin.token and api.crt), so a local operator needs no setup.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ApiClient } from "./api-client.js";
import { DEFAULT_STATE_DIR, upEndpoint } from "./up/state.js";

export interface CliEnv {
  readonly WEFT_API?: string;
  readonly WEFT_TOKEN?: string;
  readonly WEFT_CA_CERT?: string;
  readonly WEFT_DATA_DIR?: string;
  /** The state dir of a `weft up` mesh (default .weft/up). */
  readonly WEFT_UP_DIR?: string;
}

export const DEFAULT_API = "https://127.0.0.1:4002";
export const DEFAULT_DATA_DIR = ".weft/control";

export interface ClientFlags {
  api?: string;
  token?: string;
  caCert?: string;
  dataDir?: string;
  insecure?: boolean;
}

export function addClientOptions(cmd: Command): Command {
  return cmd
    .option("--api <url>", "control plane API URL (env WEFT_API)")
    .option("--token <token>", "bearer token (env WEFT_TOKEN; default: DATA_DIR/admin.token)")
    .option("--ca-cert <file>", "CA bundle for the API certificate (env WEFT_CA_CERT; default: DATA_DIR/api.crt)")
    .option("--data-dir <dir>", "local control data dir (env WEFT_DATA_DIR)")
    .option("--insecure", "skip TLS verification of the API");
}

/** The control data dir and API URL to use when no flag or variable names them. */
export function localControl(flags: Pick<ClientFlags, "dataDir" | "api">, env: CliEnv): { dataDir: string; api: string } {
  const explicitDir = flags.dataDir ?? env.WEFT_DATA_DIR;
  const explicitApi = flags.api ?? env.WEFT_API;
  // A running up-mesh is used only when neither the API nor a data dir is named.
  const up = explicitDir === undefined && explicitApi === undefined ? upEndpoint(env.WEFT_UP_DIR ?? DEFAULT_STATE_DIR) : undefined;
  const dataDir = explicitDir ?? up?.dataDir ?? DEFAULT_DATA_DIR;
  return { dataDir, api: explicitApi ?? up?.apiUrl ?? DEFAULT_API };
}

export function clientFrom(flags: ClientFlags, env: CliEnv): ApiClient {
  const { dataDir, api } = localControl(flags, env);
  const tokenFile = join(dataDir, "admin.token");
  const token = flags.token ?? env.WEFT_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : undefined);
  const caFile = flags.caCert ?? env.WEFT_CA_CERT ?? (existsSync(join(dataDir, "api.crt")) ? join(dataDir, "api.crt") : undefined);
  return new ApiClient({
    baseUrl: api,
    ...(token ? { token } : {}),
    ...(caFile ? { caPem: readFileSync(caFile, "utf8") } : {}),
    ...(flags.insecure ? { insecure: true } : {}),
  });
}
