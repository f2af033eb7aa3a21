// Original file: proto/weft.proto


export interface SecurityGroupRule {
  /**
   * tcp | udp | icmp | all
   */
  'protocol'?: (string);
  /**
   * CIDRs or ranges (a.b.c.d-e.f.g.h)
   */
  'destinations'?: (string)[];
  /**
   * e.g. "80,443" or "8000-9000"; empty for all ports
   */
  'ports'?: (string);
  'icmpType'?: (number);
  'icmpCode'?: (number);
  'log'?: (boolean);
  'description'?: (string);
}

export interface SecurityGroupRule__Output {
  /**
   * tcp | udp | icmp | all
   */
  'protocol': (string);
  /**
   * CIDRs or ranges (a.b.c.d-e.f.g.h)
   */
  'destinations': (string)[];
  /**
   * e.g. "80,443" or "8000-9000"; empty for all ports
   */
  'ports': (string);
  'icmpType': (number);
  'icmpCode': (number);
  'log': (boolean);
  'description': (string);
}
