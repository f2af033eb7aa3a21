// Original file: proto/weft.proto


export interface PolicyRule {
  'sourceApp'?: (string);
  'sourceTag'?: (number);
  'destApp'?: (string);
  'destTag'?: (number);
  /**
   * tcp | udp
   */
  'protocol'?: (string);
  'startPort'?: (number);
  'endPort'?: (number);
}

export interface PolicyRule__Output {
  'sourceApp': (string);
  'sourceTag': (number);
  'destApp': (string);
  'destTag': (number);
  /**
   * tcp | udp
   */
  'protocol': (string);
  'startPort': (number);
  'endPort': (number);
}
