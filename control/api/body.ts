// Reads a request body with a hard cap (CF: 10 MB, else 400 "failed reading request body") and
// parses JSON with CF's "mapper: unmarshal json: ..." error. The body must be valid UTF-8, as JSON
// requires: decoding it leniently would turn distinct byte strings into the same U+FFFD id.
import type { Context } from "hono";
import { HttpError } from "./http-error.js";

export const MAX_BODY_BYTES = 10 * 1024 * 1024;
export const READ_FAILED = "failed reading request body";
// An oversized body is not read to its end, and the connection is dropped after the answer
// (cancelled stream, or a drain that gives up), so say so: a keep-alive client must not send its
// next request on it.
const CLOSE = { Connection: "close" };
// fatal: invalid UTF-8 throws. ignoreBOM keeps a leading BOM in the text, so JSON.parse rejects it
// as Go's decoder does.
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

async function readBytes(c: Context, limit: number): Promise<Buffer> {
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > limit) throw new HttpError(400, READ_FAILED, CLOSE);
  const stream = c.req.raw.body;
  if (!stream) return Buffer.alloc(0);
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
        throw new HttpError(400, READ_FAILED, CLOSE);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, READ_FAILED, {}, { cause: err });
  }
  return Buffer.concat(chunks);
}

/** Bytes as text; 400 with errorPrefix when they are not valid UTF-8. */
export function decodeBody(bytes: Uint8Array, errorPrefix = ""): string {
  try {
    return strictUtf8.decode(bytes);
  } catch (err) {
    throw new HttpError(400, `${errorPrefix}invalid UTF-8 in request body`, {}, { cause: err });
  }
}

/** The body as text; 400 with errorPrefix when it is not valid UTF-8. */
export async function readBody(c: Context, limit = MAX_BODY_BYTES, errorPrefix = ""): Promise<string> {
  return decodeBody(await readBytes(c, limit), errorPrefix);
}

/** Bytes as JSON, with readJson's errors. */
export function parseJsonBytes(bytes: Uint8Array, errorPrefix: string): unknown {
  const text = decodeBody(bytes, errorPrefix);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new HttpError(400, `${errorPrefix}${why}`);
  }
}

export async function readJson(c: Context, errorPrefix: string): Promise<unknown> {
  return parseJsonBytes(await readBytes(c, MAX_BODY_BYTES), errorPrefix);
}
