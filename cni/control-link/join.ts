// Joining the platform: the agent makes its own key pair (the private key never leaves the cell),
// sends a CSR with a one-time join token to control's REST API, and gets its cell certificate, the
// CA bundle and the gRPC endpoint. Everything after that authenticates with the certificate.
import { request as httpsRequest } from "node:https";
import { WeftError } from "../../common/errors.js";
import { generateKeyAndCsr } from "../../common/csr.js";
import type { CellCredentials } from "../../common/cell-credentials.js";

export type { CellCredentials };

export interface JoinOptions {
  readonly apiUrl: string;
  /** CA for the REST API's certificate (control's self-signed one by default). */
  readonly apiCaPem?: string;
  readonly token: string;
  readonly cellId: string;
  /** Overrides the gRPC endpoint control advertises. */
  readonly grpcEndpoint?: string;
}

function postJson(url: URL, body: unknown, caPem: string | undefined): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        ...(caPem ? { ca: caPem } : {}),
        servername: url.hostname === "127.0.0.1" ? "localhost" : url.hostname,
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = { error: text };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("join request timed out")));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

export async function joinCell(opts: JoinOptions): Promise<CellCredentials> {
  const { privateKeyPem, csrPem } = await generateKeyAndCsr({ commonName: opts.cellId });
  let res: { status: number; json: unknown };
  try {
    res = await postJson(new URL("/weft/v1/cells/join", opts.apiUrl), { token: opts.token, cell_id: opts.cellId, csr_pem: csrPem }, opts.apiCaPem);
  } catch (err) {
    throw new WeftError("STORE_UNAVAILABLE", `cannot reach control at ${opts.apiUrl}: ${(err as Error).message}`, { cause: err });
  }
  const body = res.json as { error?: string; cell_id?: string; certificate_pem?: string; ca_bundle_pem?: string; grpc_endpoint?: string };
  if (res.status !== 200 || !body.certificate_pem || !body.ca_bundle_pem) {
    throw new WeftError(res.status === 401 ? "UNAUTHENTICATED" : "INVALID_ARGUMENT", `join refused (${res.status}): ${body.error ?? "no certificate"}`);
  }
  return {
    cellId: body.cell_id ?? opts.cellId,
    certificatePem: body.certificate_pem,
    keyPem: privateKeyPem,
    caBundlePem: body.ca_bundle_pem,
    grpcEndpoint: opts.grpcEndpoint ?? body.grpc_endpoint ?? "",
  };
}
