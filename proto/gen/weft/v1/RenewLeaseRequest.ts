// Original file: proto/weft.proto

import type { Lease as _weft_v1_Lease, Lease__Output as _weft_v1_Lease__Output } from '../../weft/v1/Lease.js';

export interface RenewLeaseRequest {
  'lease'?: (_weft_v1_Lease | null);
}

export interface RenewLeaseRequest__Output {
  'lease': (_weft_v1_Lease__Output | null);
}
