// Original file: proto/weft.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AcquireLeaseRequest as _weft_v1_AcquireLeaseRequest, AcquireLeaseRequest__Output as _weft_v1_AcquireLeaseRequest__Output } from '../../weft/v1/AcquireLeaseRequest.js';
import type { AgentMessage as _weft_v1_AgentMessage, AgentMessage__Output as _weft_v1_AgentMessage__Output } from '../../weft/v1/AgentMessage.js';
import type { CellCertificate as _weft_v1_CellCertificate, CellCertificate__Output as _weft_v1_CellCertificate__Output } from '../../weft/v1/CellCertificate.js';
import type { ControlMessage as _weft_v1_ControlMessage, ControlMessage__Output as _weft_v1_ControlMessage__Output } from '../../weft/v1/ControlMessage.js';
import type { DeregisterInstanceRequest as _weft_v1_DeregisterInstanceRequest, DeregisterInstanceRequest__Output as _weft_v1_DeregisterInstanceRequest__Output } from '../../weft/v1/DeregisterInstanceRequest.js';
import type { DeregisterInstanceResponse as _weft_v1_DeregisterInstanceResponse, DeregisterInstanceResponse__Output as _weft_v1_DeregisterInstanceResponse__Output } from '../../weft/v1/DeregisterInstanceResponse.js';
import type { InstanceCertificate as _weft_v1_InstanceCertificate, InstanceCertificate__Output as _weft_v1_InstanceCertificate__Output } from '../../weft/v1/InstanceCertificate.js';
import type { Lease as _weft_v1_Lease, Lease__Output as _weft_v1_Lease__Output } from '../../weft/v1/Lease.js';
import type { RegisterInstanceRequest as _weft_v1_RegisterInstanceRequest, RegisterInstanceRequest__Output as _weft_v1_RegisterInstanceRequest__Output } from '../../weft/v1/RegisterInstanceRequest.js';
import type { RegisterInstanceResponse as _weft_v1_RegisterInstanceResponse, RegisterInstanceResponse__Output as _weft_v1_RegisterInstanceResponse__Output } from '../../weft/v1/RegisterInstanceResponse.js';
import type { ReleaseLeaseRequest as _weft_v1_ReleaseLeaseRequest, ReleaseLeaseRequest__Output as _weft_v1_ReleaseLeaseRequest__Output } from '../../weft/v1/ReleaseLeaseRequest.js';
import type { ReleaseLeaseResponse as _weft_v1_ReleaseLeaseResponse, ReleaseLeaseResponse__Output as _weft_v1_ReleaseLeaseResponse__Output } from '../../weft/v1/ReleaseLeaseResponse.js';
import type { RenewCellCertificateRequest as _weft_v1_RenewCellCertificateRequest, RenewCellCertificateRequest__Output as _weft_v1_RenewCellCertificateRequest__Output } from '../../weft/v1/RenewCellCertificateRequest.js';
import type { RenewLeaseRequest as _weft_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _weft_v1_RenewLeaseRequest__Output } from '../../weft/v1/RenewLeaseRequest.js';
import type { SignInstanceCertificateRequest as _weft_v1_SignInstanceCertificateRequest, SignInstanceCertificateRequest__Output as _weft_v1_SignInstanceCertificateRequest__Output } from '../../weft/v1/SignInstanceCertificateRequest.js';

/**
 * Served to cell agents.
 */
export interface CellClient extends grpc.Client {
  /**
   * Overlay subnet leases (CF silk-controller semantics).
   */
  AcquireLease(argument: _weft_v1_AcquireLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  AcquireLease(argument: _weft_v1_AcquireLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  AcquireLease(argument: _weft_v1_AcquireLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  AcquireLease(argument: _weft_v1_AcquireLeaseRequest, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  /**
   * Overlay subnet leases (CF silk-controller semantics).
   */
  acquireLease(argument: _weft_v1_AcquireLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  acquireLease(argument: _weft_v1_AcquireLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  acquireLease(argument: _weft_v1_AcquireLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  acquireLease(argument: _weft_v1_AcquireLeaseRequest, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  
  DeregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  DeregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  DeregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  DeregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  deregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  deregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  deregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  deregisterInstance(argument: _weft_v1_DeregisterInstanceRequest, callback: grpc.requestCallback<_weft_v1_DeregisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Containers on this cell, from CNI ADD/DEL metadata.
   */
  RegisterInstance(argument: _weft_v1_RegisterInstanceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  RegisterInstance(argument: _weft_v1_RegisterInstanceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  RegisterInstance(argument: _weft_v1_RegisterInstanceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  RegisterInstance(argument: _weft_v1_RegisterInstanceRequest, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Containers on this cell, from CNI ADD/DEL metadata.
   */
  registerInstance(argument: _weft_v1_RegisterInstanceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  registerInstance(argument: _weft_v1_RegisterInstanceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  registerInstance(argument: _weft_v1_RegisterInstanceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  registerInstance(argument: _weft_v1_RegisterInstanceRequest, callback: grpc.requestCallback<_weft_v1_RegisterInstanceResponse__Output>): grpc.ClientUnaryCall;
  
  ReleaseLease(argument: _weft_v1_ReleaseLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  ReleaseLease(argument: _weft_v1_ReleaseLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  ReleaseLease(argument: _weft_v1_ReleaseLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  ReleaseLease(argument: _weft_v1_ReleaseLeaseRequest, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  releaseLease(argument: _weft_v1_ReleaseLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  releaseLease(argument: _weft_v1_ReleaseLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  releaseLease(argument: _weft_v1_ReleaseLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  releaseLease(argument: _weft_v1_ReleaseLeaseRequest, callback: grpc.requestCallback<_weft_v1_ReleaseLeaseResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Renews the cell's own certificate before it expires. The CSR's subject must be the cell.
   */
  RenewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  RenewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  RenewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  RenewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  /**
   * Renews the cell's own certificate before it expires. The CSR's subject must be the cell.
   */
  renewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  renewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  renewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  renewCellCertificate(argument: _weft_v1_RenewCellCertificateRequest, callback: grpc.requestCallback<_weft_v1_CellCertificate__Output>): grpc.ClientUnaryCall;
  
  RenewLease(argument: _weft_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _weft_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _weft_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  RenewLease(argument: _weft_v1_RenewLeaseRequest, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _weft_v1_RenewLeaseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _weft_v1_RenewLeaseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _weft_v1_RenewLeaseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  renewLease(argument: _weft_v1_RenewLeaseRequest, callback: grpc.requestCallback<_weft_v1_Lease__Output>): grpc.ClientUnaryCall;
  
  /**
   * Signs a container's certificate. Only for an instance registered on the calling cell.
   */
  SignInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  SignInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  SignInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  SignInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  /**
   * Signs a container's certificate. Only for an instance registered on the calling cell.
   */
  signInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  signInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  signInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  signInstanceCertificate(argument: _weft_v1_SignInstanceCertificateRequest, callback: grpc.requestCallback<_weft_v1_InstanceCertificate__Output>): grpc.ClientUnaryCall;
  
  /**
   * The cell's desired state: hello, then a snapshot, then deltas, each stamped with a revision.
   * The agent acks a revision once it is enforced in the kernel, or nacks it with an error.
   */
  Sync(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_weft_v1_AgentMessage, _weft_v1_ControlMessage__Output>;
  Sync(options?: grpc.CallOptions): grpc.ClientDuplexStream<_weft_v1_AgentMessage, _weft_v1_ControlMessage__Output>;
  /**
   * The cell's desired state: hello, then a snapshot, then deltas, each stamped with a revision.
   * The agent acks a revision once it is enforced in the kernel, or nacks it with an error.
   */
  sync(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_weft_v1_AgentMessage, _weft_v1_ControlMessage__Output>;
  sync(options?: grpc.CallOptions): grpc.ClientDuplexStream<_weft_v1_AgentMessage, _weft_v1_ControlMessage__Output>;
  
}

/**
 * Served to cell agents.
 */
export interface CellHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Overlay subnet leases (CF silk-controller semantics).
   */
  AcquireLease: grpc.handleUnaryCall<_weft_v1_AcquireLeaseRequest__Output, _weft_v1_Lease>;
  
  DeregisterInstance: grpc.handleUnaryCall<_weft_v1_DeregisterInstanceRequest__Output, _weft_v1_DeregisterInstanceResponse>;
  
  /**
   * Containers on this cell, from CNI ADD/DEL metadata.
   */
  RegisterInstance: grpc.handleUnaryCall<_weft_v1_RegisterInstanceRequest__Output, _weft_v1_RegisterInstanceResponse>;
  
  ReleaseLease: grpc.handleUnaryCall<_weft_v1_ReleaseLeaseRequest__Output, _weft_v1_ReleaseLeaseResponse>;
  
  /**
   * Renews the cell's own certificate before it expires. The CSR's subject must be the cell.
   */
  RenewCellCertificate: grpc.handleUnaryCall<_weft_v1_RenewCellCertificateRequest__Output, _weft_v1_CellCertificate>;
  
  RenewLease: grpc.handleUnaryCall<_weft_v1_RenewLeaseRequest__Output, _weft_v1_Lease>;
  
  /**
   * Signs a container's certificate. Only for an instance registered on the calling cell.
   */
  SignInstanceCertificate: grpc.handleUnaryCall<_weft_v1_SignInstanceCertificateRequest__Output, _weft_v1_InstanceCertificate>;
  
  /**
   * The cell's desired state: hello, then a snapshot, then deltas, each stamped with a revision.
   * The agent acks a revision once it is enforced in the kernel, or nacks it with an error.
   */
  Sync: grpc.handleBidiStreamingCall<_weft_v1_AgentMessage__Output, _weft_v1_ControlMessage>;
  
}

export interface CellDefinition extends grpc.ServiceDefinition {
  AcquireLease: MethodDefinition<_weft_v1_AcquireLeaseRequest, _weft_v1_Lease, _weft_v1_AcquireLeaseRequest__Output, _weft_v1_Lease__Output>
  DeregisterInstance: MethodDefinition<_weft_v1_DeregisterInstanceRequest, _weft_v1_DeregisterInstanceResponse, _weft_v1_DeregisterInstanceRequest__Output, _weft_v1_DeregisterInstanceResponse__Output>
  RegisterInstance: MethodDefinition<_weft_v1_RegisterInstanceRequest, _weft_v1_RegisterInstanceResponse, _weft_v1_RegisterInstanceRequest__Output, _weft_v1_RegisterInstanceResponse__Output>
  ReleaseLease: MethodDefinition<_weft_v1_ReleaseLeaseRequest, _weft_v1_ReleaseLeaseResponse, _weft_v1_ReleaseLeaseRequest__Output, _weft_v1_ReleaseLeaseResponse__Output>
  RenewCellCertificate: MethodDefinition<_weft_v1_RenewCellCertificateRequest, _weft_v1_CellCertificate, _weft_v1_RenewCellCertificateRequest__Output, _weft_v1_CellCertificate__Output>
  RenewLease: MethodDefinition<_weft_v1_RenewLeaseRequest, _weft_v1_Lease, _weft_v1_RenewLeaseRequest__Output, _weft_v1_Lease__Output>
  SignInstanceCertificate: MethodDefinition<_weft_v1_SignInstanceCertificateRequest, _weft_v1_InstanceCertificate, _weft_v1_SignInstanceCertificateRequest__Output, _weft_v1_InstanceCertificate__Output>
  Sync: MethodDefinition<_weft_v1_AgentMessage, _weft_v1_ControlMessage, _weft_v1_AgentMessage__Output, _weft_v1_ControlMessage__Output>
}
