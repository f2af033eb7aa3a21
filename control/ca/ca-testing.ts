// Test helpers for control/ca (imported only by its *.test.ts files): verify a chain with the
// openssl command line, and read a certificate with Node's X509Certificate.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
