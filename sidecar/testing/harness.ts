// Test helpers: a sidecar fed through the real channel directory but listening on loopback ports
// (no namespaces), apps to forward to, and a TLS client. Imported only by tests and the benchmark.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { silentLogger, type Logger } from "../../common/logger.js";
import {
  removeSidecarContainer,
  waitSidecarServing,
  writeSidecarContainer,
  type SidecarContainerSpec,
  type SidecarCredentials,
  type SidecarOptions,
} from "../../common/sidecar-contract.js";
import { DEFAULT_LIMITS, type ProxyLimits, type SidecarConfig } from "../config.js";
import { startSidecar, type RunningSidecar } from "../main.js";
import { TEST_IDENTITY } from "../../test/support/test-pki.js";

export interface Harness {
  readonly dir: string;
  readonly sidecar: RunningSidecar;
  /** Writes the container file as the agent would and waits until it is served; returns its port. */
  put(c: { credentials: SidecarCredentials; appPort: number; guid?: string; options?: SidecarOptions }): Promise<number>;
  remove(guid?: string): Promise<void>;
  stop(): Promise<void>;
}

/** nativeBinary: null = as if weft-tlsd was not built (node:tls only); default the built one. */
export async function startHarness(opts: { limits?: Partial<ProxyLimits>; logger?: Logger; opsPort?: number; nativeBinary?: string | null } = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), "weft-sidecar-"));
  const config: SidecarConfig = {
    mode: { kind: "shared" },
    channelDir: dir,
    listenPort: 0,
    listenHost: "127.0.0.1",
    limits: { ...DEFAULT_LIMITS, ...opts.limits },
    ...(opts.opsPort !== undefined ? { opsListen: { host: "127.0.0.1", port: opts.opsPort } } : {}),
    netns: { nsenterPath: "nsenter", concurrency: 4, timeoutMs: 30_000 },
  };
  const sidecar = await startSidecar(config, opts.logger ?? silentLogger, {
    listenerFor: () => Promise.resolve({ host: "127.0.0.1", port: 0 }),
    ...(opts.nativeBinary !== undefined ? { nativeBinary: opts.nativeBinary } : {}),
  });
  return {
    dir,
    sidecar,
    async put(c) {
      const guid = c.guid ?? TEST_IDENTITY.instanceGuid;
      const spec: SidecarContainerSpec = {
        instanceGuid: guid,
        netnsPath: "/proc/self/ns/net",
        containerIp: "127.0.0.1",
        appPort: c.appPort,
        credentials: c.credentials,
        ...(c.options !== undefined ? { options: c.options } : {}),
      };
      const generation = await writeSidecarContainer(dir, spec);
      await waitSidecarServing(dir, guid, generation, { timeoutMs: 15_000 });
      const port = sidecar.containers.portOf(guid);
      if (port === undefined) throw new Error(`${guid} is not served`);
      return port;
    },
    remove: (guid = TEST_IDENTITY.instanceGuid) => removeSidecarContainer(dir, guid),
    async stop() {
      await sidecar.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  readonly port: number;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A TCP app on loopback; `onSocket` decides what it does with each connection. */
export async function startApp(onSocket: (s: Socket) => void, opts: { allowHalfOpen?: boolean } = {}): Promise<TestApp> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: opts.allowHalfOpen ?? true }, (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => undefined);
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Echoes every byte; when the client half-closes, writes `bye` and closes its side. */
export const echoWithBye = (s: Socket): void => {
  s.pipe(s, { end: false });
  s.on("end", () => s.end("bye"));
};

/** A port with nothing listening (bound, then released). */
export async function unusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface ClientOptions {
  readonly port: number;
  readonly ca: string;
  readonly servername?: string;
  readonly key?: string;
  readonly cert?: string;
  readonly host?: string;
  readonly ALPNProtocols?: string[];
}

/** A verified TLS connection to the sidecar; resolves after the handshake. */
export function connectTls(o: ClientOptions): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      host: o.host ?? "127.0.0.1",
      port: o.port,
      ca: o.ca,
      ...(o.servername !== undefined ? { servername: o.servername } : {}),
      ...(o.key !== undefined && o.cert !== undefined ? { key: o.key, cert: o.cert } : {}),
      ...(o.ALPNProtocols !== undefined ? { ALPNProtocols: o.ALPNProtocols } : {}),
    });
    s.allowHalfOpen = true; // documented as settable before 'end'; the connect options lack it
    s.once("secureConnect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Everything the socket receives until it ends or closes. */
export function readAll(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.once("end", () => resolve(Buffer.concat(chunks)));
    s.once("close", () => resolve(Buffer.concat(chunks)));
    s.once("error", reject);
  });
}

/** Resolves with the first `n` bytes the socket receives. */
export function readBytes(s: Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        s.off("data", onData);
        s.off("error", reject);
        const all = Buffer.concat(chunks);
        if (all.length > n) s.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    s.on("data", onData);
    s.once("error", reject);
  });
}
