// Listening sockets inside another network namespace, for the shared (one process per cell) mode.
//
// Node cannot switch namespaces, and it has no public API to receive a file descriptor over a unix
// socket. It can, however, pass socket handles between Node processes over the IPC channel of
// child_process (SCM_RIGHTS underneath): that is how `cluster` shares listeners. So for each
// container a short-lived helper runs as `nsenter --net=<netns> node -e <HELPER>`; it binds
// 0.0.0.0:61443 inside the container's namespace (a socket stays in the namespace it was created
// in), sends the listening handle to us and exits. We then accept on that socket from the cell's
// namespace, and each container costs one listening socket, not one process. The helper's
// startup (tens of ms, more on a busy cell) is paid once per container start.
//
// The one check that matters for safety: the target namespace must not be our own, or 61443
// would be opened on the cell host.
import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import type { Server } from "node:net";
import { WeftError, errorMessage } from "../common/errors.js";

// Runs inside the namespace. argv: port, backlog, host. Replies {ok} + the handle, or {ok:false,code}.
const HELPER = `
const net = require("node:net");
const [port, backlog] = process.argv.slice(1, 3).map(Number);
const host = process.argv[3] || "0.0.0.0";
const server = net.createServer();
server.on("error", (e) => process.send({ ok: false, code: e.code || "ERROR", message: String(e.message) }, () => process.exit(1)));
server.listen({ host, port, backlog }, () => process.send({ ok: true }, server, { keepOpen: false }, () => process.exit(0)));
`;

export interface NetnsListenerOptions {
  readonly nsenterPath: string;
  readonly timeoutMs: number;
  readonly backlog?: number;
  /** The address to bind inside the namespace; default 0.0.0.0. */
  readonly host?: string;
}

interface HelperReply {
  readonly ok: boolean;
  readonly code?: string;
  readonly message?: string;
}

async function namespaceId(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.dev}:${s.ino}`;
}

/** True when `netnsPath` is the namespace this process runs in. */
export async function isOwnNamespace(netnsPath: string): Promise<boolean> {
  return (await namespaceId(netnsPath)) === (await namespaceId("/proc/self/ns/net"));
}

export async function listenInNamespace(netnsPath: string, port: number, opts: NetnsListenerOptions): Promise<Server> {
  let target: string;
  try {
    target = await namespaceId(netnsPath);
  } catch (err) {
    throw new WeftError("NOT_FOUND", `network namespace ${netnsPath} is not there: ${errorMessage(err)}`, { cause: err });
  }
  if (target === (await namespaceId("/proc/self/ns/net"))) {
    throw new WeftError("FORBIDDEN", `${netnsPath} is the sidecar's own namespace: port ${port} would be opened on the cell host`);
  }
  const child = spawn(opts.nsenterPath, [`--net=${netnsPath}`, "--", process.execPath, "-e", HELPER, String(port), String(opts.backlog ?? 4096), opts.host ?? "0.0.0.0"], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2000)));
  try {
    return await new Promise<Server>((resolve, reject) => {
      const timer = setTimeout(() => reject(new WeftError("INTERNAL", `listener helper for ${netnsPath} did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new WeftError("INTERNAL", `cannot start ${opts.nsenterPath}: ${err.message}`, { cause: err }));
      });
      child.once("message", (reply: HelperReply, handle: unknown) => {
        clearTimeout(timer);
        if (reply.ok && handle !== undefined) resolve(handle as Server);
        else reject(new WeftError(reply.code === "EADDRINUSE" ? "CONFLICT" : "INTERNAL", `cannot listen on port ${port} in ${netnsPath}: ${reply.code ?? ""} ${reply.message ?? ""}`.trim()));
      });
      // The helper exits right after sending; the handle can be handed over after 'exit' is seen,
      // so a clean exit waits for the message (bounded by the timer).
      child.once("exit", (code, signal) => {
        if (code === 0) return;
        clearTimeout(timer);
        reject(new WeftError("INTERNAL", `listener helper for ${netnsPath} exited with ${code ?? signal}: ${stderr.trim()}`));
      });
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
