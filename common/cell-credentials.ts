// A cell's credentials for the control plane, as files in one directory, so that every process of
// the cell (the agent that joined, and the DNS server beside it) uses the same identity. The agent
// writes them after joining and after each renewal (atomically: write then rename); readers load
// them when they (re)connect.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WeftError } from "./errors.js";

export interface CellCredentials {
  readonly cellId: string;
  readonly certificatePem: string;
  readonly keyPem: string;
  readonly caBundlePem: string;
  /** host:port of control's gRPC listener. */
  readonly grpcEndpoint: string;
}

const FILES = { cert: "cell.crt", key: "cell.key", ca: "ca.crt", meta: "cell.json" } as const;

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, file);
}

export function saveCellCredentials(dir: string, creds: CellCredentials): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeAtomic(join(dir, FILES.key), creds.keyPem, 0o600);
  writeAtomic(join(dir, FILES.cert), creds.certificatePem, 0o644);
  writeAtomic(join(dir, FILES.ca), creds.caBundlePem, 0o644);
  writeAtomic(join(dir, FILES.meta), JSON.stringify({ cellId: creds.cellId, grpcEndpoint: creds.grpcEndpoint }) + "\n", 0o644);
}

export function loadCellCredentials(dir: string): CellCredentials {
  try {
    const meta = JSON.parse(readFileSync(join(dir, FILES.meta), "utf8")) as { cellId?: unknown; grpcEndpoint?: unknown };
    if (typeof meta.cellId !== "string" || typeof meta.grpcEndpoint !== "string") throw new Error(`${FILES.meta} is incomplete`);
    return {
      cellId: meta.cellId,
      grpcEndpoint: meta.grpcEndpoint,
      certificatePem: readFileSync(join(dir, FILES.cert), "utf8"),
      keyPem: readFileSync(join(dir, FILES.key), "utf8"),
      caBundlePem: readFileSync(join(dir, FILES.ca), "utf8"),
    };
  } catch (err) {
    throw new WeftError("NOT_FOUND", `no cell credentials in ${dir} (has the agent joined?): ${(err as Error).message}`, { cause: err });
  }
}
