// One benchmark client: a single HTTPS keep-alive connection to the control's API (its own
// self-signed CA, servername "localhost"), one request at a time, like one cf CLI or one
// automation worker. The benchmark runs several of these side by side for concurrency.
//
// It is undici's Client (one connection, no pipelining) rather than node:https: the load client
// shares the machine's CPUs with the server it measures, and node:https spends about twice the
// CPU per request for the same bytes on the wire.
import { Client } from "undici";

export interface HttpReply {
  readonly status: number;
  readonly revision: string | undefined;
  readonly body: Buffer;
}

export class HttpsClient {
  private readonly client: Client;
  private readonly auth: Record<string, string>;

  constructor(port: number, ca: string, token?: string) {
    this.client = new Client(`https://127.0.0.1:${port}`, {
      connect: { ca, servername: "localhost" },
      pipelining: 1,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    this.auth = token ? { authorization: `Bearer ${token}` } : {};
  }

  async request(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<HttpReply> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = payload === undefined ? this.auth : { ...this.auth, "content-type": "application/json" };
    const res = await this.client.request({ method, path, headers, body: payload ?? null });
    const bytes = Buffer.from(await res.body.arrayBuffer());
    const rev = res.headers["x-weft-revision"];
    return { status: res.statusCode, revision: Array.isArray(rev) ? rev[0] : rev, body: bytes };
  }

  close(): void {
    void this.client.destroy();
  }
}
