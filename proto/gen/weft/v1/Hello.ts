// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface Hello {
  /**
   * The last revision this agent enforced (0 when it has nothing).
   */
  'enforcedRevision'?: (number | string | Long);
  'underlayIp'?: (string);
  'agentVersion'?: (string);
}

export interface Hello__Output {
  /**
   * The last revision this agent enforced (0 when it has nothing).
   */
  'enforcedRevision': (number);
  'underlayIp': (string);
  'agentVersion': (string);
}
