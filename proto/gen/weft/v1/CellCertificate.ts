// Original file: proto/weft.proto

import type { Long } from '@grpc/proto-loader';

export interface CellCertificate {
  'cellId'?: (string);
  /**
   * The leaf followed by its chain.
   */
  'certificatePem'?: (string);
  /**
   * Every root the cell must trust (two during a CA rotation).
   */
  'caBundlePem'?: (string);
  /**
   * Unix milliseconds.
   */
  'notAfter'?: (number | string | Long);
}

export interface CellCertificate__Output {
  'cellId': (string);
  /**
   * The leaf followed by its chain.
   */
  'certificatePem': (string);
  /**
   * Every root the cell must trust (two during a CA rotation).
   */
  'caBundlePem': (string);
  /**
   * Unix milliseconds.
   */
  'notAfter': (number);
}
