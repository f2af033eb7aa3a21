// The agent's end of the CNI plugin: HTTP over a unix socket (root-only), POST /cni with the
// CNI_* variables as X-Cni-* headers and the network configuration as the body (see
// cni/plugin/weft-cni.c). Answers 200 with the result, or 400/500 with the CNI error JSON.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { dirname } from "node:path";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { CNI_CODES, CniError } from "../spec/cni-error.js";
import { parseCniRequest, type CniRequest } from "../spec/cni-request.js";

const MAX_BODY = 1 << 20;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new CniError(CNI_CODES.DECODE_FAILED, "network configuration larger than 1 MiB"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startCniServer(
  socketPath: string,
  handle: (req: CniRequest) => Promise<Record<string, unknown> | null>,
  log: Logger,
): Promise<{ close(): Promise<void> }> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  rmSync(socketPath, { force: true });
  const server: Server = createServer((req, res) => {
    const h = (name: string) => String(req.headers[`x-cni-${name}`] ?? "");
    const env = { command: h("command"), containerId: h("containerid"), netns: h("netns"), ifname: h("ifname"), args: h("args"), path: h("path") };
    const started = performance.now();
    let cniVersion = "1.1.0";
    readBody(req)
      .then((body) => {
        const parsed = parseCniRequest(env, body);
        if ("config" in parsed) cniVersion = parsed.config.cniVersion;
        return handle(parsed);
      })
      .then(
        (result) => {
          log.info({ command: env.command, container: env.containerId, ms: Math.round(performance.now() - started) }, "cni-command-done");
          res.writeHead(200, { "content-type": "application/json", connection: "close" }).end(result ? JSON.stringify(result) : "");
        },
        (err: unknown) => {
          const cni = err instanceof CniError ? err : new CniError(CNI_CODES.IO_FAILURE, errorMessage(err));
          log.warn({ command: env.command, container: env.containerId, code: cni.code, err: cni.message, details: cni.details }, "cni-command-failed");
          res.writeHead(cni.code < 10 ? 400 : 500, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(cni.toJSON(cniVersion)));
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  log.info({ socket: socketPath }, "cni-socket-listening");
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(socketPath, { force: true });
      }),
  };
}
