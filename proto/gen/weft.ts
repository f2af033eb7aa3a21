import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { Ack as _weft_v1_Ack, Ack__Output as _weft_v1_Ack__Output } from './weft/v1/Ack.js';
import type { AcquireLeaseRequest as _weft_v1_AcquireLeaseRequest, AcquireLeaseRequest__Output as _weft_v1_AcquireLeaseRequest__Output } from './weft/v1/AcquireLeaseRequest.js';
import type { AgentMessage as _weft_v1_AgentMessage, AgentMessage__Output as _weft_v1_AgentMessage__Output } from './weft/v1/AgentMessage.js';
import type { CellClient as _weft_v1_CellClient, CellDefinition as _weft_v1_CellDefinition } from './weft/v1/Cell.js';
import type { CellCertificate as _weft_v1_CellCertificate, CellCertificate__Output as _weft_v1_CellCertificate__Output } from './weft/v1/CellCertificate.js';
import type { CellDelta as _weft_v1_CellDelta, CellDelta__Output as _weft_v1_CellDelta__Output } from './weft/v1/CellDelta.js';
import type { CellState as _weft_v1_CellState, CellState__Output as _weft_v1_CellState__Output } from './weft/v1/CellState.js';
import type { ControlMessage as _weft_v1_ControlMessage, ControlMessage__Output as _weft_v1_ControlMessage__Output } from './weft/v1/ControlMessage.js';
import type { DeregisterInstanceRequest as _weft_v1_DeregisterInstanceRequest, DeregisterInstanceRequest__Output as _weft_v1_DeregisterInstanceRequest__Output } from './weft/v1/DeregisterInstanceRequest.js';
import type { DeregisterInstanceResponse as _weft_v1_DeregisterInstanceResponse, DeregisterInstanceResponse__Output as _weft_v1_DeregisterInstanceResponse__Output } from './weft/v1/DeregisterInstanceResponse.js';
import type { Hello as _weft_v1_Hello, Hello__Output as _weft_v1_Hello__Output } from './weft/v1/Hello.js';
import type { Instance as _weft_v1_Instance, Instance__Output as _weft_v1_Instance__Output } from './weft/v1/Instance.js';
import type { InstanceCertificate as _weft_v1_InstanceCertificate, InstanceCertificate__Output as _weft_v1_InstanceCertificate__Output } from './weft/v1/InstanceCertificate.js';
import type { Lease as _weft_v1_Lease, Lease__Output as _weft_v1_Lease__Output } from './weft/v1/Lease.js';
import type { Nack as _weft_v1_Nack, Nack__Output as _weft_v1_Nack__Output } from './weft/v1/Nack.js';
import type { PolicyRule as _weft_v1_PolicyRule, PolicyRule__Output as _weft_v1_PolicyRule__Output } from './weft/v1/PolicyRule.js';
import type { RegisterInstanceRequest as _weft_v1_RegisterInstanceRequest, RegisterInstanceRequest__Output as _weft_v1_RegisterInstanceRequest__Output } from './weft/v1/RegisterInstanceRequest.js';
import type { RegisterInstanceResponse as _weft_v1_RegisterInstanceResponse, RegisterInstanceResponse__Output as _weft_v1_RegisterInstanceResponse__Output } from './weft/v1/RegisterInstanceResponse.js';
import type { RegistryClient as _weft_v1_RegistryClient, RegistryDefinition as _weft_v1_RegistryDefinition } from './weft/v1/Registry.js';
import type { RegistryInstance as _weft_v1_RegistryInstance, RegistryInstance__Output as _weft_v1_RegistryInstance__Output } from './weft/v1/RegistryInstance.js';
import type { RegistryRoute as _weft_v1_RegistryRoute, RegistryRoute__Output as _weft_v1_RegistryRoute__Output } from './weft/v1/RegistryRoute.js';
import type { RegistryUpdate as _weft_v1_RegistryUpdate, RegistryUpdate__Output as _weft_v1_RegistryUpdate__Output } from './weft/v1/RegistryUpdate.js';
import type { ReleaseLeaseRequest as _weft_v1_ReleaseLeaseRequest, ReleaseLeaseRequest__Output as _weft_v1_ReleaseLeaseRequest__Output } from './weft/v1/ReleaseLeaseRequest.js';
import type { ReleaseLeaseResponse as _weft_v1_ReleaseLeaseResponse, ReleaseLeaseResponse__Output as _weft_v1_ReleaseLeaseResponse__Output } from './weft/v1/ReleaseLeaseResponse.js';
import type { RenewCellCertificateRequest as _weft_v1_RenewCellCertificateRequest, RenewCellCertificateRequest__Output as _weft_v1_RenewCellCertificateRequest__Output } from './weft/v1/RenewCellCertificateRequest.js';
import type { RenewLeaseRequest as _weft_v1_RenewLeaseRequest, RenewLeaseRequest__Output as _weft_v1_RenewLeaseRequest__Output } from './weft/v1/RenewLeaseRequest.js';
import type { SecurityGroup as _weft_v1_SecurityGroup, SecurityGroup__Output as _weft_v1_SecurityGroup__Output } from './weft/v1/SecurityGroup.js';
import type { SecurityGroupRule as _weft_v1_SecurityGroupRule, SecurityGroupRule__Output as _weft_v1_SecurityGroupRule__Output } from './weft/v1/SecurityGroupRule.js';
import type { SignInstanceCertificateRequest as _weft_v1_SignInstanceCertificateRequest, SignInstanceCertificateRequest__Output as _weft_v1_SignInstanceCertificateRequest__Output } from './weft/v1/SignInstanceCertificateRequest.js';
import type { WatchRegistryRequest as _weft_v1_WatchRegistryRequest, WatchRegistryRequest__Output as _weft_v1_WatchRegistryRequest__Output } from './weft/v1/WatchRegistryRequest.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  weft: {
    v1: {
      Ack: MessageTypeDefinition<_weft_v1_Ack, _weft_v1_Ack__Output>
      AcquireLeaseRequest: MessageTypeDefinition<_weft_v1_AcquireLeaseRequest, _weft_v1_AcquireLeaseRequest__Output>
      AgentMessage: MessageTypeDefinition<_weft_v1_AgentMessage, _weft_v1_AgentMessage__Output>
      /**
       * Served to cell agents.
       */
      Cell: SubtypeConstructor<typeof grpc.Client, _weft_v1_CellClient> & { service: _weft_v1_CellDefinition }
      CellCertificate: MessageTypeDefinition<_weft_v1_CellCertificate, _weft_v1_CellCertificate__Output>
      CellDelta: MessageTypeDefinition<_weft_v1_CellDelta, _weft_v1_CellDelta__Output>
      CellState: MessageTypeDefinition<_weft_v1_CellState, _weft_v1_CellState__Output>
      ControlMessage: MessageTypeDefinition<_weft_v1_ControlMessage, _weft_v1_ControlMessage__Output>
      DeregisterInstanceRequest: MessageTypeDefinition<_weft_v1_DeregisterInstanceRequest, _weft_v1_DeregisterInstanceRequest__Output>
      DeregisterInstanceResponse: MessageTypeDefinition<_weft_v1_DeregisterInstanceResponse, _weft_v1_DeregisterInstanceResponse__Output>
      Hello: MessageTypeDefinition<_weft_v1_Hello, _weft_v1_Hello__Output>
      Instance: MessageTypeDefinition<_weft_v1_Instance, _weft_v1_Instance__Output>
      InstanceCertificate: MessageTypeDefinition<_weft_v1_InstanceCertificate, _weft_v1_InstanceCertificate__Output>
      Lease: MessageTypeDefinition<_weft_v1_Lease, _weft_v1_Lease__Output>
      Nack: MessageTypeDefinition<_weft_v1_Nack, _weft_v1_Nack__Output>
      PolicyRule: MessageTypeDefinition<_weft_v1_PolicyRule, _weft_v1_PolicyRule__Output>
      RegisterInstanceRequest: MessageTypeDefinition<_weft_v1_RegisterInstanceRequest, _weft_v1_RegisterInstanceRequest__Output>
      RegisterInstanceResponse: MessageTypeDefinition<_weft_v1_RegisterInstanceResponse, _weft_v1_RegisterInstanceResponse__Output>
      /**
       * Served to DNS servers (they authenticate with their cell's certificate).
       */
      Registry: SubtypeConstructor<typeof grpc.Client, _weft_v1_RegistryClient> & { service: _weft_v1_RegistryDefinition }
      RegistryInstance: MessageTypeDefinition<_weft_v1_RegistryInstance, _weft_v1_RegistryInstance__Output>
      RegistryRoute: MessageTypeDefinition<_weft_v1_RegistryRoute, _weft_v1_RegistryRoute__Output>
      RegistryUpdate: MessageTypeDefinition<_weft_v1_RegistryUpdate, _weft_v1_RegistryUpdate__Output>
      ReleaseLeaseRequest: MessageTypeDefinition<_weft_v1_ReleaseLeaseRequest, _weft_v1_ReleaseLeaseRequest__Output>
      ReleaseLeaseResponse: MessageTypeDefinition<_weft_v1_ReleaseLeaseResponse, _weft_v1_ReleaseLeaseResponse__Output>
      RenewCellCertificateRequest: MessageTypeDefinition<_weft_v1_RenewCellCertificateRequest, _weft_v1_RenewCellCertificateRequest__Output>
      RenewLeaseRequest: MessageTypeDefinition<_weft_v1_RenewLeaseRequest, _weft_v1_RenewLeaseRequest__Output>
      SecurityGroup: MessageTypeDefinition<_weft_v1_SecurityGroup, _weft_v1_SecurityGroup__Output>
      SecurityGroupRule: MessageTypeDefinition<_weft_v1_SecurityGroupRule, _weft_v1_SecurityGroupRule__Output>
      SignInstanceCertificateRequest: MessageTypeDefinition<_weft_v1_SignInstanceCertificateRequest, _weft_v1_SignInstanceCertificateRequest__Output>
      WatchRegistryRequest: MessageTypeDefinition<_weft_v1_WatchRegistryRequest, _weft_v1_WatchRegistryRequest__Output>
    }
  }
}

