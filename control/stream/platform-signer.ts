// Adapts the platform CA (control/ca) to what the gRPC services and the join need.
import type { PlatformCa } from "../ca/platform-ca.js";
import type { Signer } from "./signer.js";

export interface SignerOptions {
  /** Validity of cell certificates; default 7 days (cells renew at two thirds). */
  readonly cellCertValidityMs?: number;
}

export function platformSigner(ca: PlatformCa, opts: SignerOptions = {}): Signer {
  return {
    trustBundlePem: () => ca.trustBundlePem(),
    signCell: (csrPem, cellId) => Promise.resolve(ca.signCellCsr(csrPem, cellId, opts.cellCertValidityMs !== undefined ? { validityMs: opts.cellCertValidityMs } : {})),
    signInstance: (req) => {
      const id = { instanceGuid: req.instanceGuid, appGuid: req.appGuid, spaceGuid: req.spaceGuid, orgGuid: req.orgGuid, routes: req.routes };
      if (req.csrPem !== undefined) return Promise.resolve(ca.signInstanceCsr(req.csrPem, id));
      if (req.publicKeyPem !== undefined) return Promise.resolve(ca.issueInstanceCert(req.publicKeyPem, id));
      return Promise.reject(new Error("signInstance needs a CSR or a public key"));
    },
  };
}
