// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface Lease {
  'underlayIp'?: (string);
  /**
   * e.g. 10.255.34.0/24
   */
  'overlaySubnet'?: (string);
  /**
   * ee:ee: + the 4 bytes of the VTEP address (the subnet's .0)
   */
  'vtepMac'?: (string);
  'cellId'?: (string);
  /**
   * Unix milliseconds.
   */
  'expiresAt'?: (number | string | Long);
}

export interface Lease__Output {
  'underlayIp': (string);
  /**
   * e.g. 10.255.34.0/24
   */
  'overlaySubnet': (string);
  /**
   * ee:ee: + the 4 bytes of the VTEP address (the subnet's .0)
   */
  'vtepMac': (string);
  'cellId': (string);
  /**
   * Unix milliseconds.
   */
  'expiresAt': (number);
}
