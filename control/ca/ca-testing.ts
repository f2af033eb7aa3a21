// Test helpers for control/ca (imported only by its *.test.ts files): verify a chain with the
// openssl command line, read certificates with Node's X509Certificate, run a real TLS handshake.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";

export interface OpensslResult {
  readonly ok: boolean;
  readonly output: string;
}

/** `openssl verify -CAfile <bundle> [-verify_hostname name] <leaf>` on temp files, removed afterwards. */
export async function opensslVerify(bundlePem: string, leafPem: string, opts: { hostname?: string; purpose?: string } = {}): Promise<OpensslResult> {
  const dir = await mkdtemp(join(tmpdir(), "weft-ca-"));
  try {
    await writeFile(join(dir, "ca.pem"), bundlePem);
    await writeFile(join(dir, "leaf.pem"), leafPem);
    const args = ["verify", "-CAfile", join(dir, "ca.pem")];
    if (opts.hostname !== undefined) args.push("-verify_hostname", opts.hostname);
    if (opts.purpose !== undefined) args.push("-purpose", opts.purpose);
    args.push(join(dir, "leaf.pem"));
    return await new Promise<OpensslResult>((resolve) => {
      execFile("openssl", args, (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}` }));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs fn in a fresh temp dir with an `openssl <args>` runner (cwd = the dir); removes the dir. */
export async function inTempDir<T>(fn: (dir: string, run: (args: readonly string[]) => Promise<string>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "weft-ossl-"));
  const run = (args: readonly string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile("openssl", args, { cwd: dir }, (err, out, stderr) => (err ? reject(new Error(`openssl ${args.join(" ")}: ${stderr}`)) : resolve(out)));
    });
  try {
    return await fn(dir, run);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The PEM blocks of a chain, each as an X509Certificate. */
export function certs(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map((b) => new X509Certificate(b));
}

export interface HandshakeOptions {
  /** The server's key and chain (leaf first). */
  readonly server: { readonly keyPem: string; readonly certPem: string };
  /** Trust bundle of the server, when it asks for client certificates. */
  readonly serverCa?: string;
  /** The client's trust bundle. */
  readonly ca: string;
  /** SNI and the name checked against the server certificate; omit to check the IP. */
  readonly servername?: string;
  readonly client?: { readonly keyPem: string; readonly certPem: string };
}

export type HandshakeResult =
  | { readonly ok: true; readonly peerSubjectCn: string | undefined; readonly clientCn: string | undefined }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** A real TLS handshake over loopback between a node:tls server and client; both end afterwards. */
export async function handshake(o: HandshakeOptions): Promise<HandshakeResult> {
  const server = createTlsServer({
    key: o.server.keyPem,
    cert: o.server.certPem,
    ...(o.serverCa !== undefined ? { ca: o.serverCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  let clientCn: string | undefined;
  server.on("secureConnection", (s) => {
    const cn = s.getPeerCertificate().subject?.CN;
    clientCn = Array.isArray(cn) ? cn.join(",") : cn;
    s.end("hello");
  });
  server.on("tlsClientError", () => undefined);
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<HandshakeResult>((resolve) => {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port,
        ca: o.ca,
        ...(o.servername !== undefined ? { servername: o.servername } : {}),
        ...(o.client !== undefined ? { key: o.client.keyPem, cert: o.client.certPem } : {}),
      });
      socket.on("error", (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code ?? "", message: err.message }));
      socket.on("data", () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        resolve({ ok: true, peerSubjectCn: Array.isArray(cn) ? cn.join(",") : cn, clientCn });
        socket.end();
      });
    });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}
