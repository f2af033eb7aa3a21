// One error type for the REST edge. Handlers throw HttpError (or a WeftError, mapped here), and a
// single handler in server.ts renders {"error": message}.
import { WeftError, type WeftErrorCode } from "../../common/errors.js";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HttpError";
  }
}

const STATUS_BY_CODE: Record<WeftErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  STORE_UNAVAILABLE: 503,
  TAGS_EXHAUSTED: 409,
  QUOTA_EXCEEDED: 403,
  INTERNAL: 500,
};

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof WeftError) return new HttpError(STATUS_BY_CODE[err.code], err.message, {}, { cause: err });
  return new HttpError(500, "internal server error", {}, { cause: err });
}
