// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface WatchRegistryRequest {
  /**
   * The last revision the DNS server has (0 for none); a snapshot is sent when deltas cannot be.
   */
  'revision'?: (number | string | Long);
}

export interface WatchRegistryRequest__Output {
  /**
   * The last revision the DNS server has (0 for none); a snapshot is sent when deltas cannot be.
   */
  'revision': (number);
}
