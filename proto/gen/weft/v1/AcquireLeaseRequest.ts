// Original file: proto/weft.proto


export interface AcquireLeaseRequest {
  'underlayIp'?: (string);
}

export interface AcquireLeaseRequest__Output {
  'underlayIp': (string);
}
