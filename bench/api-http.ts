// One benchmark client: a single HTTPS keep-alive connection to the control's API (its own
// self-signed CA, servername "localhost"), one request at a time, like one cf CLI or one
// automation worker. The benchmark runs several of these side by side for concurrency.
import { Agent, request } from "node:https";

export interface HttpReply {
  readonly status: number;
  readonly revision: string | undefined;
  readonly body: Buffer;
}

export class HttpsClient {
  private readonly agent: Agent;

  constructor(
    private readonly port: number,
    private readonly ca: string,
    private readonly token?: string,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
  }

  request(method: string, path: string, body?: unknown): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: this.port, method, path, headers, agent: this.agent, ca: this.ca, servername: "localhost" },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const rev = res.headers["x-weft-revision"];
            resolve({ status: res.statusCode ?? 0, revision: Array.isArray(rev) ? rev[0] : rev, body: Buffer.concat(chunks) });
          });
          res.on("error", reject);
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
