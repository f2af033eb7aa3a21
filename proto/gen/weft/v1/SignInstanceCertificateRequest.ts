// Original file: proto/weft.proto


export interface SignInstanceCertificateRequest {
  'instanceGuid'?: (string);
  'csrPem'?: (string);
}

export interface SignInstanceCertificateRequest__Output {
  'instanceGuid': (string);
  'csrPem': (string);
}
