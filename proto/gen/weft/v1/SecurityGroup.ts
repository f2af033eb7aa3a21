// Original file: proto/weft.proto

import type { SecurityGroupRule as _weft_v1_SecurityGroupRule, SecurityGroupRule__Output as _weft_v1_SecurityGroupRule__Output } from '../../weft/v1/SecurityGroupRule.js';

export interface SecurityGroup {
  'guid'?: (string);
  'name'?: (string);
  'rules'?: (_weft_v1_SecurityGroupRule)[];
  'runningDefault'?: (boolean);
  'stagingDefault'?: (boolean);
  'runningSpaces'?: (string)[];
  'stagingSpaces'?: (string)[];
}

export interface SecurityGroup__Output {
  'guid': (string);
  'name': (string);
  'rules': (_weft_v1_SecurityGroupRule__Output)[];
  'runningDefault': (boolean);
  'stagingDefault': (boolean);
  'runningSpaces': (string)[];
  'stagingSpaces': (string)[];
}
