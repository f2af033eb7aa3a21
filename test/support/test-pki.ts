// Test and benchmark certificates made with the real platform CA code (control/ca). Imported only
// by sidecar tests and bench/sidecar.ts, never by the sidecar itself, which must not depend on
// control/.
import { createCsrPem, generateKeyAndCsr } from "../../common/csr.js";
import type { SidecarCredentials } from "../../common/sidecar-contract.js";
import { CertificateIssuer } from "../../control/ca/certificate-issuer.js";
import { signInstanceCsr, type InstanceIdentity } from "../../control/ca/instance-certificate.js";
import { createRootCa, type PemPair } from "../../control/ca/root-ca.js";

export interface TestRoot {
  readonly root: PemPair;
  readonly issuer: CertificateIssuer;
}

let rootCount = 0;

/** A fresh platform root; successive roots get distinct names (the CN carries a time). */
export async function createTestRoot(): Promise<TestRoot> {
  const root = await createRootCa({ now: Date.now() + 1000 * rootCount++ });
  return { root, issuer: new CertificateIssuer(root) };
}

export const TEST_IDENTITY: InstanceIdentity = {
  instanceGuid: "6d1f6f0e-1c2b-4f7e-9a55-0c8d2f3b4a10",
  appGuid: "backend-app-guid",
  spaceGuid: "space-guid-1",
  orgGuid: "org-guid-1",
  routes: ["backend.apps.internal", "api.apps.internal"],
};

export interface IssuedCredentials extends SidecarCredentials {
  readonly serialNumber: string;
}

/**
 * An instance certificate from `root` for `id`, with the key generated as the agent does (P-256,
 * CSR). Pass keyPem to re-issue for an existing key; bundle defaults to the issuing root alone.
 */
export async function issueInstance(
  root: TestRoot,
  id: InstanceIdentity = TEST_IDENTITY,
  opts: { keyPem?: string; bundle?: string; validityMs?: number } = {},
): Promise<IssuedCredentials> {
  let keyPem = opts.keyPem;
  let csrPem: string;
  if (keyPem === undefined) {
    const k = await generateKeyAndCsr({ commonName: id.instanceGuid });
    keyPem = k.privateKeyPem;
    csrPem = k.csrPem;
  } else {
    csrPem = await createCsrPem(keyPem, { commonName: id.instanceGuid });
  }
  const issued = signInstanceCsr(root.issuer, csrPem, id, opts.validityMs !== undefined ? { validityMs: opts.validityMs } : {});
  return { keyPem, certificateChainPem: issued.certificatePem, caBundlePem: opts.bundle ?? root.root.certPem, serialNumber: issued.serialNumber };
}
