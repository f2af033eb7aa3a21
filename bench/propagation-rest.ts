// A small HTTPS JSON client for the propagation benchmark: control's REST API over keep-alive
// connections, trusting control's self-signed API certificate (servername localhost), with a
// bearer token. Returns status, headers and parsed JSON; never throws on an HTTP error status.
import { Agent, request } from "node:https";

export interface RestResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly json: unknown;
  readonly text: string;
}

export interface RestClient {
  send(method: "GET" | "POST", path: string, body?: unknown): Promise<RestResponse>;
  close(): void;
}

export function restClient(baseUrl: string, caPem: string, token: string | null, timeoutMs = 30_000): RestClient {
  const agent = new Agent({ keepAlive: true, ca: caPem, maxSockets: 32 });
  return {
    send(method, path, body) {
      return new Promise((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const headers: Record<string, string> = {};
        if (token !== null) headers.authorization = `Bearer ${token}`;
        if (payload !== undefined) headers["content-type"] = "application/json";
        const req = request(`${baseUrl}${path}`, { method, headers, agent, servername: "localhost", timeout: timeoutMs }, (res) => {
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
            resolve({ status: res.statusCode ?? 0, headers: res.headers, json, text });
          });
          res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}
