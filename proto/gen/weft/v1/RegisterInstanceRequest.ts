// Original file: proto/weft.proto

import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from '../../weft/v1/Instance.js';

export interface RegisterInstanceRequest {
  'instance'?: (_weft_v1_Instance | null);
  /**
   * Used to register the app when the registry does not know it yet.
   */
  'appName'?: (string);
}

export interface RegisterInstanceRequest__Output {
  'instance': (_weft_v1_Instance__Output | null);
  /**
   * Used to register the app when the registry does not know it yet.
   */
  'appName': (string);
}
