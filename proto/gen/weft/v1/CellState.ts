// Original file: proto/weft.proto

import type { Lease as _weft_v1_Lease, Lease__Output as _weft_v1_Lease__Output } from '../../weft/v1/Lease.js';
import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from '../../weft/v1/Instance.js';
import type { PolicyRule as _weft_v1_PolicyRule, PolicyRule__Output as _weft_v1_PolicyRule__Output } from '../../weft/v1/PolicyRule.js';
import type { SecurityGroup as _weft_v1_SecurityGroup, SecurityGroup__Output as _weft_v1_SecurityGroup__Output } from '../../weft/v1/SecurityGroup.js';

/**
 * Everything a cell needs, and nothing else: all leases (for the overlay), its own containers,
 * the policies whose source or destination app runs on it (with tags), and the ASGs of its
 * containers' spaces.
 */
export interface CellState {
  'leases'?: (_weft_v1_Lease)[];
  'instances'?: (_weft_v1_Instance)[];
  'policies'?: (_weft_v1_PolicyRule)[];
  'securityGroups'?: (_weft_v1_SecurityGroup)[];
  'caBundlePem'?: (string);
}

/**
 * Everything a cell needs, and nothing else: all leases (for the overlay), its own containers,
 * the policies whose source or destination app runs on it (with tags), and the ASGs of its
 * containers' spaces.
 */
export interface CellState__Output {
  'leases': (_weft_v1_Lease__Output)[];
  'instances': (_weft_v1_Instance__Output)[];
  'policies': (_weft_v1_PolicyRule__Output)[];
  'securityGroups': (_weft_v1_SecurityGroup__Output)[];
  'caBundlePem': (string);
}
