// The agent's gRPC connection to control: mutual TLS with the cell certificate, unary calls with
// deadlines, and the channel's own reconnects. Control identifies the cell from the certificate.
import type { ServiceError } from "@grpc/grpc-js";
import { cellChannelCredentials, cellChannelOptions } from "../../common/grpc-channel.js";
import { WeftError, type WeftErrorCode } from "../../common/errors.js";
import { loadWeftProto } from "../../proto/load.js";
import type * as pb from "../../proto/types.js";
import type { CellCredentials } from "../../common/cell-credentials.js";

const CODES: Record<number, WeftErrorCode> = {
  3: "INVALID_ARGUMENT",
  5: "NOT_FOUND",
  7: "FORBIDDEN",
  8: "QUOTA_EXCEEDED",
  9: "CONFLICT",
  14: "STORE_UNAVAILABLE",
  16: "UNAUTHENTICATED",
};

export function fromServiceError(err: ServiceError): WeftError {
  return new WeftError(CODES[err.code] ?? "INTERNAL", err.details || err.message, { cause: err });
}

export interface ControlClientOptions {
  readonly deadlineMs?: number;
  /** TLS server name to verify (control's certificate has localhost and its host names). */
  readonly serverName?: string;
}

type UnaryMethod<Req, Res> = (req: Req, options: { deadline: Date }, cb: (err: ServiceError | null, res?: Res) => void) => unknown;

export class ControlClient {
  cell: pb.CellClient;
  registry: pb.RegistryClient;
  private readonly deadlineMs: number;
  /** Channels made with earlier credentials: calls already open on them carry on until close(). */
  private readonly retired: { close(): void }[] = [];

  constructor(
    creds: CellCredentials,
    private readonly opts: ControlClientOptions = {},
  ) {
    [this.cell, this.registry] = ControlClient.channels(creds, opts);
    this.deadlineMs = opts.deadlineMs ?? 10_000;
  }

  private static channels(creds: CellCredentials, opts: ControlClientOptions): [pb.CellClient, pb.RegistryClient] {
    const proto = loadWeftProto();
    const tls = cellChannelCredentials(creds);
    const channelOptions = cellChannelOptions(opts.serverName);
    return [new proto.weft.v1.Cell(creds.grpcEndpoint, tls, channelOptions), new proto.weft.v1.Registry(creds.grpcEndpoint, tls, channelOptions)];
  }

  /** New calls and streams use these credentials (a renewed certificate, a new trust bundle). */
  useCredentials(creds: CellCredentials): void {
    this.retired.push(this.cell, this.registry);
    [this.cell, this.registry] = ControlClient.channels(creds, this.opts);
  }

  private call<Req, Res>(method: UnaryMethod<Req, Res>, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      method(req, { deadline: new Date(Date.now() + this.deadlineMs) }, (err, res) => {
        if (err) reject(fromServiceError(err));
        else resolve(res as Res);
      });
    });
  }

  acquireLease(underlayIp: string): Promise<pb.Lease> {
    return this.call<pb.AcquireLeaseRequest, pb.Lease>((r, o, cb) => this.cell.AcquireLease(r, o, cb), { underlayIp });
  }

  renewLease(lease: pb.Lease): Promise<pb.Lease> {
    return this.call<pb.RenewLeaseRequest, pb.Lease>((r, o, cb) => this.cell.RenewLease(r, o, cb), { lease });
  }

  releaseLease(underlayIp: string): Promise<pb.ReleaseLeaseResponse> {
    return this.call<pb.ReleaseLeaseRequest, pb.ReleaseLeaseResponse>((r, o, cb) => this.cell.ReleaseLease(r, o, cb), { underlayIp });
  }

  registerInstance(instance: pb.Instance, appName = ""): Promise<pb.RegisterInstanceResponse> {
    return this.call<pb.RegisterInstanceRequest, pb.RegisterInstanceResponse>((r, o, cb) => this.cell.RegisterInstance(r, o, cb), { instance, appName });
  }

  deregisterInstance(instanceGuid: string): Promise<pb.DeregisterInstanceResponse> {
    return this.call<pb.DeregisterInstanceRequest, pb.DeregisterInstanceResponse>((r, o, cb) => this.cell.DeregisterInstance(r, o, cb), { instanceGuid });
  }

  signInstanceCertificate(instanceGuid: string, csrPem: string): Promise<pb.InstanceCertificate> {
    return this.call<pb.SignInstanceCertificateRequest, pb.InstanceCertificate>((r, o, cb) => this.cell.SignInstanceCertificate(r, o, cb), { instanceGuid, csrPem });
  }

  renewCellCertificate(csrPem: string): Promise<pb.CellCertificate> {
    return this.call<pb.RenewCellCertificateRequest, pb.CellCertificate>((r, o, cb) => this.cell.RenewCellCertificate(r, o, cb), { csrPem });
  }

  close(): void {
    this.cell.close();
    this.registry.close();
    for (const c of this.retired.splice(0)) c.close();
  }
}
