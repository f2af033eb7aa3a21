// The Cell service's unary calls: certificate renewal, leases, instance registration and container
// certificates. Each is a straight pipeline: identify the cell from its certificate, validate the
// message, act through the stores, answer. A cell can only act on itself: leases it holds, instances
// on it, certificates for its own containers.
import { X509Certificate } from "node:crypto";
import type { ServerUnaryCall, sendUnaryData } from "@grpc/grpc-js";
import { WeftError, errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type * as pb from "../../proto/types.js";
import type { StateFeed } from "../state/state-feed.js";
import type { CellStore } from "../store/cell-store.js";
import type { InstanceStore } from "../store/instance-store.js";
import type { LeaseRecord, LeaseStore } from "../store/lease-store.js";
import { vtepOf } from "../leases/lease-pool.js";
import type { CellAuthenticator } from "./cell-auth.js";
import { toServiceError } from "./grpc-errors.js";
import { checkIPv4, checkId, checkIndex, checkLifecycle, checkPem, checkPorts, ipInSubnet } from "./message-checks.js";
import type { Signer } from "./signer.js";

export interface CellServiceDeps {
  readonly auth: CellAuthenticator;
  readonly leases: LeaseStore;
  readonly instances: InstanceStore;
  readonly cells: CellStore;
  readonly signer: Signer;
  readonly feed: StateFeed;
  readonly log: Logger;
}

type Unary<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

function unary<Req, Res>(deps: CellServiceDeps, name: string, fn: (cellId: string, req: Req) => Promise<Res>): Unary<Req, Res> {
  return (call, callback) => {
    deps.auth
      .identify(call)
      .then((id) => fn(id.cellId, call.request))
      .then(
        (res) => callback(null, res),
        (err: unknown) => {
          if (!(err instanceof WeftError) || err.code === "INTERNAL") deps.log.error({ rpc: name, err: errorMessage(err) }, "rpc-failed");
          callback(toServiceError(err));
        },
      );
  };
}

function leaseMessage(l: LeaseRecord): pb.Lease {
  return { underlayIp: l.underlayIp, overlaySubnet: l.overlaySubnet, vtepMac: vtepOf(l.overlaySubnet).mac, cellId: l.cellId, expiresAt: l.expiresAt };
}

export function fingerprintOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256;
}

export function cellServiceHandlers(deps: CellServiceDeps) {
  const { leases, instances, signer, feed } = deps;
  return {
    RenewCellCertificate: unary<pb.RenewCellCertificateRequest, pb.CellCertificate>(deps, "RenewCellCertificate", async (cellId, req) => {
      const signed = await signer.signCell(checkPem("csr_pem", req.csrPem), cellId);
      await deps.cells.recordCertificate(cellId, fingerprintOf(signed.certificatePem));
      deps.auth.invalidate(cellId);
      return { cellId, certificatePem: signed.certificatePem, caBundlePem: signer.trustBundlePem(), notAfter: signed.notAfter };
    }),

    AcquireLease: unary<pb.AcquireLeaseRequest, pb.Lease>(deps, "AcquireLease", async (cellId, req) =>
      leaseMessage(await leases.acquire(cellId, checkIPv4("underlay_ip", req.underlayIp))),
    ),

    RenewLease: unary<pb.RenewLeaseRequest, pb.Lease>(deps, "RenewLease", async (cellId, req) => {
      if (!req.lease) throw new WeftError("INVALID_ARGUMENT", "invalid lease: required");
      const underlayIp = checkIPv4("lease.underlay_ip", req.lease.underlayIp);
      return leaseMessage(await leases.renew(cellId, { underlayIp, overlaySubnet: String(req.lease.overlaySubnet) }));
    }),

    ReleaseLease: unary<pb.ReleaseLeaseRequest, pb.ReleaseLeaseResponse>(deps, "ReleaseLease", async (cellId, req) => {
      await leases.release(cellId, checkIPv4("underlay_ip", req.underlayIp));
      return {};
    }),

    RegisterInstance: unary<pb.RegisterInstanceRequest, pb.RegisterInstanceResponse>(deps, "RegisterInstance", async (cellId, req) => {
      const i = req.instance;
      if (!i) throw new WeftError("INVALID_ARGUMENT", "invalid instance: required");
      const overlayIp = checkIPv4("instance.overlay_ip", i.overlayIp);
      const held = await leases.ofCell(cellId);
      if (!held.some((l) => ipInSubnet(overlayIp, l.overlaySubnet))) {
        throw new WeftError("INVALID_ARGUMENT", `invalid instance.overlay_ip: ${overlayIp} is not in this cell's lease`);
      }
      const appName = req.appName === "" ? "" : checkId("app_name", req.appName);
      const revision = await instances.register(
        cellId,
        {
          instanceGuid: checkId("instance.instance_guid", i.instanceGuid),
          appGuid: checkId("instance.app_guid", i.appGuid),
          spaceGuid: checkId("instance.space_guid", i.spaceGuid),
          orgGuid: checkId("instance.org_guid", i.orgGuid),
          index: checkIndex("instance.index", i.index),
          overlayIp,
          ports: checkPorts("instance.ports", i.ports),
          lifecycle: checkLifecycle(i.lifecycle),
        },
        appName,
      );
      return { revision: revision ?? feed.state.revision };
    }),

    DeregisterInstance: unary<pb.DeregisterInstanceRequest, pb.DeregisterInstanceResponse>(deps, "DeregisterInstance", async (cellId, req) => {
      const revision = await instances.deregister(cellId, checkId("instance_guid", req.instanceGuid));
      return { revision: revision ?? feed.state.revision };
    }),

    SignInstanceCertificate: unary<pb.SignInstanceCertificateRequest, pb.InstanceCertificate>(deps, "SignInstanceCertificate", async (cellId, req) => {
      const guid = checkId("instance_guid", req.instanceGuid);
      const csrPem = checkPem("csr_pem", req.csrPem);
      const found = await instances.get(guid);
      if (!found || found.instance.cellId !== cellId) {
        throw new WeftError("FORBIDDEN", `instance ${guid} is not registered on this cell`);
      }
      const inst = found.instance;
      const routes = [...(feed.state.routesByApp.get(inst.appGuid) ?? [])].sort();
      const signed = await signer.signInstance({
        csrPem,
        instanceGuid: guid,
        appGuid: inst.appGuid,
        spaceGuid: inst.spaceGuid,
        orgGuid: inst.orgGuid,
        routes,
      });
      await instances.recordCertificate(guid, signed.publicKeyPem, signed.notAfter, routes);
      return { instanceGuid: guid, certificatePem: signed.certificatePem, caBundlePem: signer.trustBundlePem(), notAfter: signed.notAfter };
    }),
  };
}
