// The local channel between the cell agent (cni/) and the TLS sidecar (sidecar/), and the files a
// container's app gets. Neither side imports the other; both import this module.
//
// Everything lives under one channel directory on the cell (default /run/weft/sidecar, a tmpfs,
// root-only):
//   containers/<instance-guid>.json  written by the agent: what the sidecar must serve for one
//                                    container (SidecarContainerFile, with the private key; mode
//                                    0600). Always written whole, atomically (temp file, fsync,
//                                    rename), so a reader sees the old or the new file, never half.
//                                    Deleting the file removes the container from the sidecar.
//   status/<instance-guid>.json      written by the sidecar after each apply (SidecarContainerStatus).
//   instances/<instance-guid>/       the app's files: instance.crt (leaf + issuing root),
//                                    instance.key and ca.crt (the trust bundle). They are swapped as
//                                    one through a `..data` symlink (the Kubernetes atomic-writer
//                                    layout), so an app never reads a new certificate with an old key.
//                                    The runtime bind-mounts the directory (not the files) read-only
//                                    at INSTANCE_MOUNT_PATH, and sets instanceEnvironment() in the app.
//
// The sidecar watches containers/ with inotify (certificates are pushed, never polled) and applies
// a file as a whole. `generation` orders the writes of one container: writeSidecarContainer()
// stores the previous generation + 1, the sidecar ignores a generation it has already applied, and
// waitSidecarServing() returns once the status reports that generation served (CNI ADD is
// ready-gated on it). The files survive a sidecar restart, so a restarted sidecar serves every
// container again without the agent or control (fail static).
import { randomBytes } from "node:crypto";
import { watch } from "node:fs";
import { chown, mkdir, readFile, readdir, readlink, rename, rm, symlink } from "node:fs/promises";
import { isIPv4 } from "node:net";
import { join } from "node:path";
import writeFileAtomic from "write-file-atomic";
import { WeftError, errorMessage } from "./errors.js";

/** The sidecar's TLS port inside every container. Never forwarded to the cell host; no app may use it. */
export const SIDECAR_PORT = 61443;
/** The app port the sidecar forwards to unless the container says otherwise. */
export const DEFAULT_APP_PORT = 8080;
export const DEFAULT_CHANNEL_DIR = "/run/weft/sidecar";
/** Where the runtime mounts instances/<guid>/ inside the container (CF's path). */
export const INSTANCE_MOUNT_PATH = "/etc/cf-instance-credentials";
export const INSTANCE_FILES = { cert: "instance.crt", key: "instance.key", ca: "ca.crt" } as const;
const SCHEMA = 1;
const GUID = /^[A-Za-z0-9._-]{1,128}$/;

export interface SidecarCredentials {
  /** PKCS#8 PEM of the container's key (ECDSA P-256 by default); it never leaves the cell. */
  readonly keyPem: string;
  /** The leaf, then its issuing root. */
  readonly certificateChainPem: string;
  /** Every trusted platform root; during a CA rotation both the old and the new one. */
  readonly caBundlePem: string;
}

export interface SidecarOptions {
  /** "require": only clients with a certificate from the platform CA (mutual TLS). Default "none". */
  readonly clientCertificates?: "none" | "require";
  /** "tcp" (default): the bytes as they are. "proxy-v2": a PROXY protocol v2 header first, with the
   * caller's identity as TLVs. "http": HTTP/1.1 with an X-Forwarded-Client-Cert header. */
  readonly forward?: "tcp" | "proxy-v2" | "http";
  /** ALPN protocols to offer; default none (like CF's 61443 listener), so h2 works by prior knowledge. */
  readonly alpn?: readonly string[];
}

export interface SidecarContainerSpec {
  readonly instanceGuid: string;
  /** The container's network namespace: a bind mount (/var/run/netns/...) or /proc/<pid>/ns/net. */
  readonly netnsPath: string;
  /** The container's overlay IPv4 address; the app is reached at containerIp:appPort. */
  readonly containerIp: string;
  readonly appPort?: number;
  readonly credentials: SidecarCredentials;
  readonly options?: SidecarOptions;
}

export interface SidecarContainerFile extends SidecarContainerSpec {
  readonly schema: typeof SCHEMA;
  readonly generation: number;
}

export interface SidecarContainerStatus {
  readonly schema: typeof SCHEMA;
  readonly instanceGuid: string;
  /** The generation this status is about. */
  readonly generation: number;
  readonly state: "serving" | "failed";
  /** The generation whose certificate is being served (an older one when the newest failed). */
  readonly servingGeneration?: number;
  readonly serialNumber?: string;
  /** ISO time. */
  readonly notAfter?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly updatedAt: string;
}

export const channelPaths = (dir: string) => ({
  containers: join(dir, "containers"),
  status: join(dir, "status"),
  instances: join(dir, "instances"),
  container: (guid: string) => join(dir, "containers", `${checkGuid(guid)}.json`),
  statusFile: (guid: string) => join(dir, "status", `${checkGuid(guid)}.json`),
  instance: (guid: string) => join(dir, "instances", checkGuid(guid)),
});

/** The instance GUID of a containers/ or status/ file name, or undefined for any other name. */
export function guidOfFileName(name: string): string | undefined {
  const m = /^(.+)\.json$/.exec(name);
  return m?.[1] !== undefined && GUID.test(m[1]) ? m[1] : undefined;
}

function checkGuid(guid: string): string {
  if (!GUID.test(guid) || guid === "." || guid === "..") throw new WeftError("INVALID_ARGUMENT", `invalid instance GUID ${JSON.stringify(guid)}`);
  return guid;
}

/** An app may not claim the sidecar's port. */
export function checkAppPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new WeftError("INVALID_ARGUMENT", `invalid app port ${port}`);
  if (port === SIDECAR_PORT) throw new WeftError("INVALID_ARGUMENT", `port ${SIDECAR_PORT} is reserved for container networking`);
  return port;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== "string" || v === "") throw new WeftError("INVALID_ARGUMENT", `${k} must be a non-empty string`);
  return v;
}

/** Checks a spec before it is written (agent side) or applied (sidecar side). */
export function checkSpec(spec: SidecarContainerSpec): SidecarContainerSpec {
  checkGuid(spec.instanceGuid);
  if (!spec.netnsPath.startsWith("/")) throw new WeftError("INVALID_ARGUMENT", "netnsPath must be an absolute path");
  if (!isIPv4(spec.containerIp)) throw new WeftError("INVALID_ARGUMENT", `containerIp ${JSON.stringify(spec.containerIp)} is not an IPv4 address`);
  checkAppPort(spec.appPort ?? DEFAULT_APP_PORT);
  const o = spec.options ?? {};
  if (o.clientCertificates !== undefined && !["none", "require"].includes(o.clientCertificates)) throw new WeftError("INVALID_ARGUMENT", "options.clientCertificates must be none or require");
  if (o.forward !== undefined && !["tcp", "proxy-v2", "http"].includes(o.forward)) throw new WeftError("INVALID_ARGUMENT", "options.forward must be tcp, proxy-v2 or http");
  if (o.alpn !== undefined && !o.alpn.every((p) => typeof p === "string" && p.length > 0 && p.length < 256)) throw new WeftError("INVALID_ARGUMENT", "options.alpn must be protocol names");
  return spec;
}

/** Parses and checks a containers/<guid>.json file. */
export function parseContainerFile(text: string): SidecarContainerFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new WeftError("INVALID_ARGUMENT", `container file is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  if (!isObject(raw) || raw.schema !== SCHEMA) throw new WeftError("INVALID_ARGUMENT", `container file schema must be ${SCHEMA}`);
  const generation = raw.generation;
  if (typeof generation !== "number" || !Number.isSafeInteger(generation) || generation < 1) throw new WeftError("INVALID_ARGUMENT", "generation must be a positive integer");
  const c = raw.credentials;
  if (!isObject(c)) throw new WeftError("INVALID_ARGUMENT", "credentials must be an object");
  const options = raw.options === undefined ? undefined : isObject(raw.options) ? (raw.options as SidecarOptions) : undefined;
  if (raw.options !== undefined && options === undefined) throw new WeftError("INVALID_ARGUMENT", "options must be an object");
  const appPort = raw.appPort;
  if (appPort !== undefined && typeof appPort !== "number") throw new WeftError("INVALID_ARGUMENT", "appPort must be a number");
  const spec = checkSpec({
    instanceGuid: str(raw, "instanceGuid"),
    netnsPath: str(raw, "netnsPath"),
    containerIp: str(raw, "containerIp"),
    ...(appPort !== undefined ? { appPort } : {}),
    credentials: { keyPem: str(c, "keyPem"), certificateChainPem: str(c, "certificateChainPem"), caBundlePem: str(c, "caBundlePem") },
    ...(options !== undefined ? { options } : {}),
  });
  return { schema: SCHEMA, generation, ...spec };
}

export function parseStatusFile(text: string): SidecarContainerStatus {
  const raw: unknown = JSON.parse(text);
  if (!isObject(raw) || raw.schema !== SCHEMA || typeof raw.generation !== "number" || (raw.state !== "serving" && raw.state !== "failed")) {
    throw new WeftError("INVALID_ARGUMENT", "malformed sidecar status file");
  }
  return raw as unknown as SidecarContainerStatus;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

export async function readSidecarStatus(dir: string, instanceGuid: string): Promise<SidecarContainerStatus | undefined> {
  const text = await readOptional(channelPaths(dir).statusFile(instanceGuid));
  return text === undefined ? undefined : parseStatusFile(text);
}

/** Atomic replace of one small file (temp file, fsync, rename). */
export async function writeFileReplacing(path: string, data: string, mode: number): Promise<void> {
  await writeFileAtomic(path, data, { mode, fsync: true });
}

export interface AppFileOwner {
  readonly uid: number;
  readonly gid: number;
}

/**
 * Agent side: stores (or replaces) what the sidecar serves for a container, and the app's files.
 * Returns the generation to pass to waitSidecarServing().
 */
export async function writeSidecarContainer(dir: string, spec: SidecarContainerSpec, opts: { appOwner?: AppFileOwner } = {}): Promise<number> {
  checkSpec(spec);
  const paths = channelPaths(dir);
  await Promise.all([paths.containers, paths.status, paths.instances].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const previous = await readOptional(paths.container(spec.instanceGuid));
  let generation = 1;
  if (previous !== undefined) {
    try {
      generation = parseContainerFile(previous).generation + 1;
    } catch {
      generation = Date.now(); // an unreadable file: anything newer than what it might have held
    }
  }
  await writeAppFiles(paths.instance(spec.instanceGuid), spec.credentials, opts.appOwner);
  const file: SidecarContainerFile = { schema: SCHEMA, generation, ...spec };
  await writeFileReplacing(paths.container(spec.instanceGuid), JSON.stringify(file), 0o600);
  return generation;
}

/** Agent side: removes a container (idempotent). The sidecar closes its listener and connections. */
export async function removeSidecarContainer(dir: string, instanceGuid: string): Promise<void> {
  const paths = channelPaths(dir);
  await rm(paths.container(instanceGuid), { force: true });
  await rm(paths.instance(instanceGuid), { recursive: true, force: true });
}

/**
 * Agent side: resolves with the status once the sidecar serves `generation` (or newer); rejects
 * with INVALID_ARGUMENT when the sidecar refused it, and with INTERNAL after timeoutMs.
 */
export async function waitSidecarServing(
  dir: string,
  instanceGuid: string,
  generation: number,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<SidecarContainerStatus> {
  const paths = channelPaths(dir);
  await mkdir(paths.status, { recursive: true, mode: 0o700 });
  const file = `${instanceGuid}.json`;
  const ac = new AbortController();
  const onAbort = () => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(new WeftError("INTERNAL", `sidecar did not serve ${instanceGuid} generation ${generation} within ${opts.timeoutMs ?? 30_000} ms`)), opts.timeoutMs ?? 30_000);
  const watcher = watch(paths.status, { signal: ac.signal });
  try {
    return await new Promise<SidecarContainerStatus>((resolve, reject) => {
      let checking = false;
      let again = false;
      const check = (): void => {
        if (checking) {
          again = true;
          return;
        }
        checking = true;
        readSidecarStatus(dir, instanceGuid).then(
          (s) => {
            checking = false;
            if (s !== undefined && s.generation >= generation) {
              if (s.state === "serving") resolve(s);
              else reject(new WeftError("INVALID_ARGUMENT", `sidecar refused ${instanceGuid}: ${s.error?.message ?? "unknown error"}`));
            } else if (again) {
              again = false;
              check();
            }
          },
          (err: unknown) => {
            checking = false;
            if (again) check(); // a file being replaced; the next event re-reads it
            else if (!(err instanceof SyntaxError)) reject(err instanceof Error ? err : new Error(String(err)));
          },
        );
      };
      watcher.on("change", (_event, name) => {
        if (name === file) check();
      });
      watcher.on("error", (err) => reject(ac.signal.aborted ? (ac.signal.reason as Error) : err));
      ac.signal.addEventListener("abort", () => reject(ac.signal.reason as Error), { once: true });
      check();
    });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    watcher.close();
  }
}

/** The environment the runtime gives the app (CF's names), with the files at INSTANCE_MOUNT_PATH. */
export function instanceEnvironment(spec: Pick<SidecarContainerSpec, "containerIp">, mountPath = INSTANCE_MOUNT_PATH): Record<string, string> {
  const ca = `${mountPath}/${INSTANCE_FILES.ca}`;
  return {
    CF_INSTANCE_CERT: `${mountPath}/${INSTANCE_FILES.cert}`,
    CF_INSTANCE_KEY: `${mountPath}/${INSTANCE_FILES.key}`,
    CF_INSTANCE_INTERNAL_IP: spec.containerIp,
    WEFT_INSTANCE_CA_BUNDLE: ca,
    // Added to (not replacing) Node's trust store, so a Node app can call NAME.apps.internal:61443.
    NODE_EXTRA_CA_CERTS: ca,
  };
}

/**
 * Writes the app's files into a new version directory and switches the `..data` symlink to it in
 * one rename; the file names are symlinks through `..data`. Older versions are removed afterwards.
 */
async function writeAppFiles(dir: string, c: SidecarCredentials, owner: AppFileOwner | undefined): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const version = `..${Date.now()}-${randomBytes(4).toString("hex")}`;
  const vdir = join(dir, version);
  await mkdir(vdir, { mode: 0o755 });
  const files: [string, string, number][] = [
    [INSTANCE_FILES.cert, c.certificateChainPem, 0o644],
    [INSTANCE_FILES.key, c.keyPem, 0o600],
    [INSTANCE_FILES.ca, c.caBundlePem, 0o644],
  ];
  for (const [name, data, mode] of files) {
    await writeFileAtomic(join(vdir, name), data, { mode, fsync: true, ...(owner ? { chown: owner } : {}) });
  }
  if (owner) await chown(vdir, owner.uid, owner.gid);
  const tmpLink = join(dir, `..data_tmp${randomBytes(4).toString("hex")}`);
  await symlink(version, tmpLink);
  await rename(tmpLink, join(dir, "..data"));
  for (const [name] of files) {
    const link = join(dir, name);
    const target = await readlink(link).catch(() => undefined);
    if (target !== `..data/${name}`) {
      await rm(link, { force: true });
      await symlink(`..data/${name}`, link);
    }
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith("..") && entry !== "..data" && entry !== version && !entry.startsWith("..data_tmp")) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}
