// Starts a real control plane in-process on ephemeral ports over a fresh test store, and gives
// tests an HTTPS client and tokens. Used by the API conformance, fuzz and concurrency suites.
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest, Agent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../common/logger.js";
import { issueToken, loadOrCreateSigningKey } from "../../control/auth/tokens.js";
import type { ControlConfig } from "../../control/config.js";
import { startControl, type RunningControl } from "../../control/main.js";
import { createTestDatabase, type StoreKind } from "./db.js";

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed JSON body, or undefined if the body is not JSON. */
  readonly json: unknown;
}

export interface TestControl {
  readonly control: RunningControl;
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly adminToken: string;
  token(opts: { scopes?: string[]; subject?: string; spaces?: string[]; ttlSeconds?: number }): Promise<string>;
  request(method: string, path: string, opts?: { body?: unknown; raw?: string | Buffer; token?: string | null; headers?: Record<string, string> }): Promise<HttpResult>;
  stop(): Promise<void>;
}

export async function startTestControl(
  kind: StoreKind,
  overrides: Partial<ControlConfig> = {},
  logger: Logger = silentLogger,
): Promise<TestControl> {
  const dataDir = mkdtempSync(join(tmpdir(), "weft-control-"));
  const database = kind === "postgres" && !overrides.databaseUrl ? await createTestDatabase() : undefined;
  const databaseUrl = overrides.databaseUrl ?? database?.url;
  const config: ControlConfig = Object.freeze({
    listen: { host: "127.0.0.1", port: 0 },
    opsListen: { host: "127.0.0.1", port: 0 },
    dataDir,
    allowedCorsOrigins: ["https://console.example.test"],
    trustedIssuers: [],
    maxPoliciesPerSource: 150,
    cleanupIntervalMs: 3_600_000,
    grpcListen: { host: "127.0.0.1", port: 0 },
    overlayNetwork: "10.255.0.0/16",
    subnetPrefix: 24,
    leaseTtlMs: 168 * 3_600_000,
    cellGraceMs: 180_000,
    ...(databaseUrl ? { databaseUrl } : {}),
    ...overrides,
  });
  const control = await startControl(config, logger);
  const key = await loadOrCreateSigningKey(dataDir);
  const token: TestControl["token"] = (opts) =>
    issueToken(key, {
      scopes: opts.scopes ?? ["network.write"],
      subject: opts.subject ?? "tester",
      ...(opts.spaces ? { spaces: opts.spaces } : {}),
      ttlSeconds: opts.ttlSeconds ?? 3600,
    });
  const adminToken = await token({ scopes: ["network.admin"], subject: "admin" });
  const agent = new Agent({ keepAlive: true, ca: control.caCertPem, maxSockets: 64 });
  const baseUrl = `https://127.0.0.1:${control.apiPort}`;

  const request: TestControl["request"] = (method, path, opts = {}) =>
    new Promise((resolve, reject) => {
      const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      const tok = opts.token === undefined ? adminToken : opts.token;
      if (tok !== null) headers.authorization = `Bearer ${tok}`;
      if (payload !== undefined) headers["content-type"] ??= "application/json";
      const req = httpsRequest(`${baseUrl}${path}`, { method, headers, agent, servername: "localhost" }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      if (payload !== undefined) req.end(payload);
      else req.end();
    });

  return {
    control,
    baseUrl,
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    adminToken,
    token,
    request,
    async stop() {
      agent.destroy();
      await control.stop();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
