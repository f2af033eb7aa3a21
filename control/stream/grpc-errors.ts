// WeftError codes to gRPC status codes: the only place the gRPC edge chooses a status.
import { status, type ServiceError, Metadata } from "@grpc/grpc-js";
import { WeftError, type WeftErrorCode } from "../../common/errors.js";

const STATUS: Record<WeftErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.FAILED_PRECONDITION,
  FORBIDDEN: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  STORE_UNAVAILABLE: status.UNAVAILABLE,
  TAGS_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  QUOTA_EXCEEDED: status.RESOURCE_EXHAUSTED,
  INTERNAL: status.INTERNAL,
};

export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof WeftError) return { code: STATUS[err.code], details: err.message, metadata: new Metadata() };
  return { code: status.INTERNAL, details: "internal error", metadata: new Metadata() };
}
