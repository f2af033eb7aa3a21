// A small HTTPS client for the REST API, used by the CLI. It trusts the given CA bundle (the
// control plane's self-signed certificate by default) and returns parsed JSON or throws one clear
// error line.
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";

export interface ApiClientOptions {
  readonly baseUrl: string;
  readonly token?: string;
  readonly caPem?: string;
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
  readonly headers: Record<string, string | string[] | undefined>;
}

export class ApiClient {
  constructor(private readonly opts: ApiClientOptions) {}

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const url = new URL(path, this.opts.baseUrl);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    if (payload !== undefined) headers["content-type"] = "application/json";
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        url,
        {
          method,
          headers,
          timeout: this.opts.timeoutMs ?? 30_000,
          ...(url.protocol === "https:"
            ? { ca: this.opts.caPem, rejectUnauthorized: !this.opts.insecure, servername: url.hostname === "127.0.0.1" ? "localhost" : url.hostname }
            : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              // plain-text bodies stay text
            }
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              const msg = typeof parsed === "object" && parsed && "error" in parsed ? String((parsed).error) : text;
              reject(new ApiError(status, `${method} ${url.pathname} failed (${status}): ${msg}`));
              return;
            }
            resolve({ status, body: parsed as T, headers: res.headers });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`request to ${url.origin} timed out`)));
      req.on("error", (err) => reject(new ApiError(0, `cannot reach ${url.origin}: ${err.message}`)));
      req.end(payload);
    });
  }
}
