// Responses after a mutation: the committed revision goes out as X-Weft-Revision so a client can
// wait for it to be enforced (weft policy add --wait).
import type { Context } from "hono";
import type { ApiDeps, Env } from "./deps.js";

export const REVISION_HEADER = "X-Weft-Revision";

export function committed(c: Context<Env>, deps: ApiDeps, revision: number | null, body: object): Response {
  if (revision !== null) {
    c.header(REVISION_HEADER, String(revision));
    deps.onCommitted?.(revision);
  }
  return c.json(body);
}
