// Original file: proto/weft.proto

import type { CellState as _weft_v1_CellState, CellState__Output as _weft_v1_CellState__Output } from '../../weft/v1/CellState.js';
import type { CellDelta as _weft_v1_CellDelta, CellDelta__Output as _weft_v1_CellDelta__Output } from '../../weft/v1/CellDelta.js';
import type { InstanceCertificate as _weft_v1_InstanceCertificate, InstanceCertificate__Output as _weft_v1_InstanceCertificate__Output } from '../../weft/v1/InstanceCertificate.js';
import type { Long } from '@grpc/proto-loader';

export interface ControlMessage {
  'revision'?: (number | string | Long);
  'snapshot'?: (_weft_v1_CellState | null);
  'delta'?: (_weft_v1_CellDelta | null);
  /**
   * A renewed or re-issued certificate for one of the cell's containers.
   */
  'certificate'?: (_weft_v1_InstanceCertificate | null);
  'kind'?: "snapshot"|"delta"|"certificate";
}

export interface ControlMessage__Output {
  'revision': (number);
  'snapshot'?: (_weft_v1_CellState__Output | null);
  'delta'?: (_weft_v1_CellDelta__Output | null);
  /**
   * A renewed or re-issued certificate for one of the cell's containers.
   */
  'certificate'?: (_weft_v1_InstanceCertificate__Output | null);
  'kind'?: "snapshot"|"delta"|"certificate";
}
