// CNI errors as the spec defines them (codes 1-99 are the spec's), rendered as the error JSON the
// plugin prints: {"cniVersion","code","msg","details"}.
export const CNI_CODES = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILED: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  PLUGIN_NOT_AVAILABLE: 50,
  LIMITED_CONNECTIVITY: 51,
  /** Weft's own (100+ is for plugins): the cell's lease has no free address. */
  ADDRESS_EXHAUSTED: 100,
  /** Weft's own: the control plane refused or did not confirm the container in time. */
  CONTROL_PLANE: 101,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = "",
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CniError";
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
