// Cells through the REST API: one-time join tokens (admin), the join itself (the token is the
// credential: the agent sends it with a CSR and gets its cell certificate; its key never leaves the
// cell), and /weft/v1/status (the current revision and, per cell, what it enforces).
import type { Hono } from "hono";
import { parseDuration } from "../auth/tokens.js";
import { ADMIN_SCOPES, WRITE_SCOPES, requireScopes } from "./auth.js";
import { readJson } from "./body.js";
import type { ApiDeps, Env, PlaneDeps } from "./deps.js";
import { HttpError } from "./http-error.js";
import { checkId, checkPem } from "../stream/message-checks.js";
import { fingerprintOf } from "../stream/cell-service.js";
import type { CellStatusRow } from "../store/cell-store.js";

function objectBody(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "invalid JSON body: expected an object");
  return body as Record<string, unknown>;
}

function renderStatus(revision: number, rows: CellStatusRow[]) {
  return {
    revision,
    cells: rows.map((r) => ({
      cell_id: r.cellId,
      underlay_ip: r.underlayIp,
      connected: r.connected,
      enforced_revision: r.enforcedRevision,
      lag: Math.max(0, revision - r.enforcedRevision),
      pending_revision: r.pendingRevision,
      last_nack: r.lastNack ? { revision: r.lastNack.revision, error: r.lastNack.error, at: new Date(r.lastNack.at).toISOString() } : null,
      last_contact: r.lastContact ? new Date(r.lastContact).toISOString() : null,
    })),
  };
}

export function registerCellRoutes(app: Hono<Env>, deps: ApiDeps, plane: PlaneDeps): void {
  app.post("/weft/v1/join-tokens", async (c) => {
    requireScopes(c, ADMIN_SCOPES);
    const body = objectBody(await readJson(c, "invalid JSON body: "));
    const cellId = body.cell_id === undefined || body.cell_id === null ? null : checkIdOr400("cell_id", body.cell_id);
    let ttl = 3600;
    if (body.ttl !== undefined) {
      if (typeof body.ttl !== "string") throw new HttpError(400, "invalid ttl: use e.g. 30m or 1h");
      try {
        ttl = parseDuration(body.ttl);
      } catch (err) {
        throw new HttpError(400, (err as Error).message);
      }
    }
    const token = await plane.joinTokens.create(ttl * 1000, cellId);
    c.status(201);
    return c.json({ token: token.token, cell_id: token.cellId, expires_at: new Date(token.expiresAt).toISOString() });
  });

  app.get("/weft/v1/status", async (c) => {
    requireScopes(c, WRITE_SCOPES);
    const [revision, rows] = await Promise.all([deps.store.revision(), plane.cells.listStatus()]);
    const merged = rows.map((r) => plane.hub.localStatus(r.cellId) ?? r);
    return c.json(renderStatus(revision, merged));
  });
}

/** POST /weft/v1/cells/join. No bearer token: the join token in the body is the credential. */
export function registerJoinRoute(app: Hono<Env>, deps: ApiDeps, plane: PlaneDeps): void {
  app.post("/weft/v1/cells/join", async (c) => {
    const body = objectBody(await readJson(c, "invalid JSON body: "));
    if (typeof body.token !== "string" || body.token === "") throw new HttpError(400, "missing token");
    const cellId = checkIdOr400("cell_id", body.cell_id);
    const csrPem = pemOr400(body.csr_pem);
    const signed = await plane.signer.signCell(csrPem, cellId);
    const granted = await plane.joinTokens.consume(body.token, cellId).catch((err: Error) => {
      throw new HttpError(401, err.message);
    });
    if (granted.cellId !== null && granted.cellId !== cellId) {
      throw new HttpError(403, `this join token is for cell ${granted.cellId}`);
    }
    await plane.cells.resetCertificate(cellId, fingerprintOf(signed.certificatePem));
    deps.logger.info({ cell: cellId }, "cell-joined");
    return c.json({
      cell_id: cellId,
      certificate_pem: signed.certificatePem,
      ca_bundle_pem: plane.signer.trustBundlePem(),
      not_after: new Date(signed.notAfter).toISOString(),
      grpc_endpoint: plane.grpcEndpoint(),
    });
  });

}

function checkIdOr400(field: string, v: unknown): string {
  try {
    return checkId(field, v);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}

function pemOr400(v: unknown): string {
  try {
    return checkPem("csr_pem", v);
  } catch (err) {
    throw new HttpError(400, (err as Error).message);
  }
}
