// `--wait`: after a change, watch /weft/v1/status until every connected cell enforces the change's
// revision, with a progress line on stderr; on timeout, name the cells that lag.
import type { ApiClient } from "./api-client.js";

export interface StatusJson {
  revision: number;
  cells: {
    cell_id: string;
    underlay_ip: string | null;
    connected: boolean;
    enforced_revision: number;
    lag: number;
    pending_revision: number | null;
    last_nack: { revision: number; error: string; at: string } | null;
    last_contact: string | null;
  }[];
}

export async function waitEnforced(client: ApiClient, revision: number, timeoutMs: number, progress: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await client.call<StatusJson>("GET", "/weft/v1/status")).body;
    const cells = status.cells.filter((c) => c.connected);
    const lagging = cells.filter((c) => c.enforced_revision < revision);
    progress(`revision ${revision}: enforced on ${cells.length - lagging.length}/${cells.length} cells`);
    if (lagging.length === 0) return;
    if (Date.now() > deadline) {
      const names = lagging.map((c) => `${c.cell_id} (enforces ${c.enforced_revision}${c.last_nack ? `, last nack at ${c.last_nack.revision}: ${c.last_nack.error}` : ""})`);
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for revision ${revision}; lagging: ${names.join(", ")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
