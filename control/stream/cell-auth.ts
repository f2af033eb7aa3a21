// Who is calling: the cell id comes from the client certificate the TLS layer already verified
// against the platform CA (CN = cell id, OU = cell), never from a message field. The certificate
// must also be one of the cell's current certificates (its fingerprint recorded at join or
// renewal), so a superseded or foreign certificate with the right CN is refused.
import type { ServerUnaryCall } from "@grpc/grpc-js";
import { WeftError } from "../../common/errors.js";
import type { CellStore } from "../store/cell-store.js";

export interface CellIdentity {
  readonly cellId: string;
  readonly fingerprint: string;
}

const CACHE_MS = 10_000;

export class CellAuthenticator {
  private readonly cache = new Map<string, { ok: boolean; until: number }>();

  constructor(private readonly cells: CellStore) {}

  async identify(call: Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext">): Promise<CellIdentity> {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    const cn = cert?.subject?.CN;
    const ou = cert?.subject?.OU;
    const isCell = Array.isArray(ou) ? ou.includes("cell") : ou === "cell";
    if (!cert || typeof cn !== "string" || cn === "" || !isCell) {
      throw new WeftError("UNAUTHENTICATED", "a cell certificate (OU=cell) is required");
    }
    const fingerprint = cert.fingerprint256;
    const key = `${cn}\u0000${fingerprint}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) {
      if (!hit.ok) throw new WeftError("UNAUTHENTICATED", `certificate is not current for cell ${cn}`);
      return { cellId: cn, fingerprint };
    }
    const valid = await this.cells.certificateFingerprints(cn);
    const ok = valid.includes(fingerprint);
    this.cache.set(key, { ok, until: Date.now() + CACHE_MS });
    if (!ok) throw new WeftError("UNAUTHENTICATED", `certificate is not current for cell ${cn}`);
    return { cellId: cn, fingerprint };
  }

  /** Forget cached verdicts for a cell (after a renewal or a fresh join). */
  invalidate(cellId: string): void {
    for (const k of this.cache.keys()) if (k.startsWith(`${cellId}\u0000`)) this.cache.delete(k);
  }
}
