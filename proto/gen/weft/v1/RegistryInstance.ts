// Original file: proto/weft.proto


export interface RegistryInstance {
  'instanceGuid'?: (string);
  'index'?: (number);
  'ip'?: (string);
}

export interface RegistryInstance__Output {
  'instanceGuid': (string);
  'index': (number);
  'ip': (string);
}
