// Original file: proto/weft.proto

import type { RegistryRoute as _weft_v1_RegistryRoute, RegistryRoute__Output as _weft_v1_RegistryRoute__Output } from '../../weft/v1/RegistryRoute.js';
import type { Long } from '@grpc/proto-loader';

export interface RegistryUpdate {
  'revision'?: (number | string | Long);
  /**
   * true: replace everything; false: each route replaces that host's instances.
   */
  'snapshot'?: (boolean);
  'routes'?: (_weft_v1_RegistryRoute)[];
  'removedHosts'?: (string)[];
}

export interface RegistryUpdate__Output {
  'revision': (number);
  /**
   * true: replace everything; false: each route replaces that host's instances.
   */
  'snapshot': (boolean);
  'routes': (_weft_v1_RegistryRoute__Output)[];
  'removedHosts': (string)[];
}
