// HTTP plumbing for the hostile-input suite: an HTTPS client that sends exactly the bytes a case
// asks for (no default auth or content type, optional chunked upload) and gives up at a deadline,
// so a hang is reported as a failure instead of stalling the run; and a raw TLS exchange for
// requests so malformed that Node's own HTTP client refuses to send them.
import { request as httpsRequest, type Agent } from "node:https";
import type { IncomingHttpHeaders } from "node:http";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

export interface HostileRequest {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent with Content-Length. */
  readonly body?: Buffer;
  /** Sent with Transfer-Encoding: chunked, one chunk each. */
  readonly chunks?: readonly Buffer[];
  /** Acceptable statuses when the case pins them down; every case must be a 4xx regardless. */
  readonly expect?: readonly number[];
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface Target {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly agent: Agent;
}

export function send(target: Target, req: HostileRequest, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, reply?: Reply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(reply!);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined && headers["content-length"] === undefined) headers["content-length"] = String(req.body.length);
    const out = httpsRequest(
      { host: target.host, port: target.port, method: req.method, path: req.path, headers, agent: target.agent, ca: target.ca, servername: "localhost" },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", (err) => finish(err));
      },
    );
    const timer = setTimeout(() => {
      out.destroy();
      finish(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
    // The server may answer (e.g. 400 for an oversized body) and close before the upload ends;
    // a write error after the response arrived is expected and harmless.
    out.on("error", (err) => finish(err));
    if (req.chunks) {
      for (const c of req.chunks) out.write(c);
      out.end();
    } else {
      out.end(req.body);
    }
  });
}

export interface RawReply {
  /** The status from the first response line, or undefined when the server closed without one. */
  readonly status: number | undefined;
  readonly text: string;
}

/** Writes bytes on a fresh TLS connection and collects everything until the server closes it. */
export function rawExchange(port: number, ca: string, bytes: Buffer, timeoutMs: number): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: TLSSocket = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => socket.end(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection not closed within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString("latin1").slice(0, 200))}`));
    }, timeoutMs);
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined); // a reset after the server's answer still ends in "close"
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text });
    });
  });
}

/** Opens a TLS connection, writes a partial request and leaves it hanging; returns a closer. */
export async function openStalled(port: number, ca: string, bytes: Buffer): Promise<() => void> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s: TLSSocket = tlsConnect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => resolve(s));
    s.once("error", reject);
  });
  socket.on("error", () => undefined);
  if (bytes.length) socket.write(bytes);
  return () => socket.destroy();
}
