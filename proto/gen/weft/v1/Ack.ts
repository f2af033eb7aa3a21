// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface Ack {
  'revision'?: (number | string | Long);
}

export interface Ack__Output {
  'revision': (number);
}
