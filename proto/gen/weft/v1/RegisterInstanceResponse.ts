// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface RegisterInstanceResponse {
  'revision'?: (number | string | Long);
}

export interface RegisterInstanceResponse__Output {
  'revision': (number);
}
