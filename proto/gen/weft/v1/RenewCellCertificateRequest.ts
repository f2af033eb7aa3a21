// Original file: proto/weft.proto


export interface RenewCellCertificateRequest {
  'csrPem'?: (string);
}

export interface RenewCellCertificateRequest__Output {
  'csrPem': (string);
}
