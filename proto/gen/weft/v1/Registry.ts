// Original file: proto/weft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { RegistryUpdate as _weft_v1_RegistryUpdate, RegistryUpdate__Output as _weft_v1_RegistryUpdate__Output } from '../../weft/v1/RegistryUpdate.js';
import type { WatchRegistryRequest as _weft_v1_WatchRegistryRequest, WatchRegistryRequest__Output as _weft_v1_WatchRegistryRequest__Output } from '../../weft/v1/WatchRegistryRequest.js';

/**
 * Served to DNS servers (they authenticate with their cell's certificate).
 */
export interface RegistryClient extends grpc.Client {
  /**
   * A snapshot of routes -> instances, then deltas.
   */
  Watch(argument: _weft_v1_WatchRegistryRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_weft_v1_RegistryUpdate__Output>;
  Watch(argument: _weft_v1_WatchRegistryRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_weft_v1_RegistryUpdate__Output>;
  /**
   * A snapshot of routes -> instances, then deltas.
   */
  watch(argument: _weft_v1_WatchRegistryRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_weft_v1_RegistryUpdate__Output>;
  watch(argument: _weft_v1_WatchRegistryRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_weft_v1_RegistryUpdate__Output>;
  
}

/**
 * Served to DNS servers (they authenticate with their cell's certificate).
 */
export interface RegistryHandlers extends grpc.UntypedServiceImplementation {
  /**
   * A snapshot of routes -> instances, then deltas.
   */
  Watch: grpc.handleServerStreamingCall<_weft_v1_WatchRegistryRequest__Output, _weft_v1_RegistryUpdate>;
  
}

export interface RegistryDefinition extends grpc.ServiceDefinition {
  Watch: MethodDefinition<_weft_v1_WatchRegistryRequest, _weft_v1_RegistryUpdate, _weft_v1_WatchRegistryRequest__Output, _weft_v1_RegistryUpdate__Output>
}
