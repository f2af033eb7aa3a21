// Errors carry a stable code and keep their cause. Transport status codes are chosen only at the
// edges (REST, gRPC, CNI) from these codes.
export type WeftErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "CONFLICT"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "STORE_UNAVAILABLE"
  | "TAGS_EXHAUSTED"
  | "QUOTA_EXCEEDED"
  | "INTERNAL";

export class WeftError extends Error {
  readonly code: WeftErrorCode;
  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WeftError";
    this.code = code;
  }
}

export function isWeftError(err: unknown, code?: WeftErrorCode): err is WeftError {
  return err instanceof WeftError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
