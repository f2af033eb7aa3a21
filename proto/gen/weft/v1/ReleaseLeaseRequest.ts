// Original file: proto/weft.proto


export interface ReleaseLeaseRequest {
  'underlayIp'?: (string);
}

export interface ReleaseLeaseRequest__Output {
  'underlayIp': (string);
}
