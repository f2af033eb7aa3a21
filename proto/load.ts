// Loads weft.proto at run time with the same options the generated types (proto/gen, from
// `npm run proto:gen`) were made with, so the types describe exactly what the loader produces.
import { loadSync } from "@grpc/proto-loader";
import { loadPackageDefinition } from "@grpc/grpc-js";
import { join } from "node:path";
import { packageRoot } from "../common/package-root.js";
import type { ProtoGrpcType } from "./gen/weft.js";

export const PROTO_LOADER_OPTIONS = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

let cached: ProtoGrpcType | undefined;

export function loadWeftProto(): ProtoGrpcType {
  cached ??= loadPackageDefinition(loadSync(join(packageRoot(), "proto", "weft.proto"), PROTO_LOADER_OPTIONS)) as unknown as ProtoGrpcType;
  return cached;
}

export type * from "./types.js";
