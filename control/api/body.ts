// Reads a request body with a hard cap (CF: 10 MB, else 400 "failed reading request body") and
// parses JSON with CF's "mapper: unmarshal json: ..." error.
import type { Context } from "hono";
import { HttpError } from "./http-error.js";

export const MAX_BODY_BYTES = 10 * 1024 * 1024;
const READ_FAILED = "failed reading request body";

export async function readBody(c: Context, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw new HttpError(400, READ_FAILED);
  const stream = c.req.raw.body;
  if (!stream) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw new HttpError(400, READ_FAILED);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, READ_FAILED, {}, { cause: err });
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function readJson(c: Context, errorPrefix: string): Promise<unknown> {
  const text = await readBody(c);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new HttpError(400, `${errorPrefix}${why}`);
  }
}
