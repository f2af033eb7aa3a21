// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface InstanceCertificate {
  'instanceGuid'?: (string);
  /**
   * The leaf followed by its chain.
   */
  'certificatePem'?: (string);
  'caBundlePem'?: (string);
  /**
   * Unix milliseconds.
   */
  'notAfter'?: (number | string | Long);
}

export interface InstanceCertificate__Output {
  'instanceGuid': (string);
  /**
   * The leaf followed by its chain.
   */
  'certificatePem': (string);
  'caBundlePem': (string);
  /**
   * Unix milliseconds.
   */
  'notAfter': (number);
}
