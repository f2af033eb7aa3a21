// Original file: proto/weft.proto

import type { RegistryInstance as _weft_v1_RegistryInstance, RegistryInstance__Output as _weft_v1_RegistryInstance__Output } from '../../weft/v1/RegistryInstance.js';

export interface RegistryRoute {
  /**
   * e.g. backend.apps.internal (lower case)
   */
  'host'?: (string);
  'instances'?: (_weft_v1_RegistryInstance)[];
}

export interface RegistryRoute__Output {
  /**
   * e.g. backend.apps.internal (lower case)
   */
  'host': (string);
  'instances': (_weft_v1_RegistryInstance__Output)[];
}
