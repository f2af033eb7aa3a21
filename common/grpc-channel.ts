// How a cell's processes reach control's gRPC listener: mutual TLS with the cell certificate,
// verifying control's certificate (issued by the platform CA for "localhost" and its host names)
// against the CA bundle, with keepalives and gRPC's own reconnect backoff.
import { credentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import type { CellCredentials } from "./cell-credentials.js";

export function cellChannelCredentials(creds: CellCredentials): ChannelCredentials {
  return credentials.createSsl(Buffer.from(creds.caBundlePem), Buffer.from(creds.keyPem), Buffer.from(creds.certificatePem));
}

export function cellChannelOptions(serverName = "localhost"): ChannelOptions {
  return {
    "grpc.ssl_target_name_override": serverName,
    "grpc.default_authority": serverName,
    "grpc.keepalive_time_ms": 20_000,
    "grpc.keepalive_timeout_ms": 10_000,
    "grpc.initial_reconnect_backoff_ms": 200,
    "grpc.max_reconnect_backoff_ms": 5000,
  };
}
