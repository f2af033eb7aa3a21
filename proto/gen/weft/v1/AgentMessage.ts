// Original file: proto/weft.proto

import type { Hello as _weft_v1_Hello, Hello__Output as _weft_v1_Hello__Output } from '../../weft/v1/Hello.js';
import type { Ack as _weft_v1_Ack, Ack__Output as _weft_v1_Ack__Output } from '../../weft/v1/Ack.js';
import type { Nack as _weft_v1_Nack, Nack__Output as _weft_v1_Nack__Output } from '../../weft/v1/Nack.js';

export interface AgentMessage {
  'hello'?: (_weft_v1_Hello | null);
  'ack'?: (_weft_v1_Ack | null);
  'nack'?: (_weft_v1_Nack | null);
  'kind'?: "hello"|"ack"|"nack";
}

export interface AgentMessage__Output {
  'hello'?: (_weft_v1_Hello__Output | null);
  'ack'?: (_weft_v1_Ack__Output | null);
  'nack'?: (_weft_v1_Nack__Output | null);
  'kind'?: "hello"|"ack"|"nack";
}
