// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface DeregisterInstanceResponse {
  'revision'?: (number | string | Long);
}

export interface DeregisterInstanceResponse__Output {
  'revision': (number);
}
