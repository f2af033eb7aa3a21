// Original file: proto/weft.proto

import type { Lease as _weft_v1_Lease, Lease__Output as _weft_v1_Lease__Output } from '../../weft/v1/Lease.js';
import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from '../../weft/v1/Instance.js';
import type { PolicyRule as _weft_v1_PolicyRule, PolicyRule__Output as _weft_v1_PolicyRule__Output } from '../../weft/v1/PolicyRule.js';
import type { SecurityGroup as _weft_v1_SecurityGroup, SecurityGroup__Output as _weft_v1_SecurityGroup__Output } from '../../weft/v1/SecurityGroup.js';

/**
 * Changes to a CellState. Keys: leases by overlay_subnet, instances by instance_guid, policies by
 * all their fields, security groups by guid.
 */
export interface CellDelta {
  'leasesUpserted'?: (_weft_v1_Lease)[];
  'leasesRemoved'?: (string)[];
  'instancesUpserted'?: (_weft_v1_Instance)[];
  'instancesRemoved'?: (string)[];
  'policiesAdded'?: (_weft_v1_PolicyRule)[];
  'policiesRemoved'?: (_weft_v1_PolicyRule)[];
  'securityGroupsUpserted'?: (_weft_v1_SecurityGroup)[];
  'securityGroupsRemoved'?: (string)[];
  /**
   * Set when the trust bundle changed.
   */
  'caBundlePem'?: (string);
}

/**
 * Changes to a CellState. Keys: leases by overlay_subnet, instances by instance_guid, policies by
 * all their fields, security groups by guid.
 */
export interface CellDelta__Output {
  'leasesUpserted': (_weft_v1_Lease__Output)[];
  'leasesRemoved': (string)[];
  'instancesUpserted': (_weft_v1_Instance__Output)[];
  'instancesRemoved': (string)[];
  'policiesAdded': (_weft_v1_PolicyRule__Output)[];
  'policiesRemoved': (_weft_v1_PolicyRule__Output)[];
  'securityGroupsUpserted': (_weft_v1_SecurityGroup__Output)[];
  'securityGroupsRemoved': (string)[];
  /**
   * Set when the trust bundle changed.
   */
  'caBundlePem': (string);
}
