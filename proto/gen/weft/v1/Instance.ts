// Original file: proto/weft.proto


export interface Instance {
  'instanceGuid'?: (string);
  'appGuid'?: (string);
  'spaceGuid'?: (string);
  'orgGuid'?: (string);
  'index'?: (number);
  'overlayIp'?: (string);
  'ports'?: (number)[];
  /**
   * running | staging | task
   */
  'lifecycle'?: (string);
  'cellId'?: (string);
}

export interface Instance__Output {
  'instanceGuid': (string);
  'appGuid': (string);
  'spaceGuid': (string);
  'orgGuid': (string);
  'index': (number);
  'overlayIp': (string);
  'ports': (number)[];
  /**
   * running | staging | task
   */
  'lifecycle': (string);
  'cellId': (string);
}
