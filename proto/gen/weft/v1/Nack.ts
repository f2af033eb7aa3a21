// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface Nack {
  'revision'?: (number | string | Long);
  'error'?: (string);
}

export interface Nack__Output {
  'revision': (number);
  'error': (string);
}
