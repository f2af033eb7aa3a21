// Original file: proto/weft.proto


export interface DeregisterInstanceRequest {
  'instanceGuid'?: (string);
}

export interface DeregisterInstanceRequest__Output {
  'instanceGuid': (string);
}
