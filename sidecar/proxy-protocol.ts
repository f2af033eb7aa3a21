// PROXY protocol v2 header (haproxy's proxy-protocol.txt, section 2.2), sent to the app before the
// caller's bytes in the "proxy-v2" forward mode, so an app behind the sidecar learns the caller's
// address and, with mutual TLS, its identity. Hand-written: the npm builders seen (proxy-protocol-js)
// do not encode TLVs, and the format is a fixed 16-byte preamble plus type-length-value records.
//
// TLVs sent: PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY (the SNI name), PP2_TYPE_SSL with the TLS version,
// cipher and the client certificate's CN, and WEFT_TLV_IDENTITY (0xE0, the first of the range the
// spec leaves to applications) holding the caller's workload identity URI (spiffe://...).
import { isIPv4, isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
export const PP2 = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  SSL: 0x20,
  SUBTYPE_SSL_VERSION: 0x21,
  SUBTYPE_SSL_CN: 0x22,
  SUBTYPE_SSL_CIPHER: 0x23,
  CLIENT_SSL: 0x01,
  CLIENT_CERT_CONN: 0x02,
  CLIENT_CERT_SESS: 0x04,
} as const;
export const WEFT_TLV_IDENTITY = 0xe0;

export interface ProxyHeaderInput {
  readonly sourceAddress: string;
  readonly sourcePort: number;
  readonly destinationAddress: string;
  readonly destinationPort: number;
  readonly alpn?: string;
  readonly serverName?: string;
  readonly tls?: {
    readonly version: string;
    readonly cipher: string;
    /** Set when the client presented a verified certificate. */
    readonly clientCommonName?: string;
    readonly clientIdentity?: string;
  };
}

function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}

const V4_MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const plainV4 = (a: string): string | undefined => (isIPv4(a) ? a : V4_MAPPED.exec(a)?.[1]);

function addressBlock(i: ProxyHeaderInput): { family: number; block: Buffer } {
  const s4 = plainV4(i.sourceAddress);
  const d4 = plainV4(i.destinationAddress);
  if (s4 !== undefined && d4 !== undefined) {
    const b = Buffer.alloc(12);
    s4.split(".").forEach((o, k) => (b[k] = Number(o)));
    d4.split(".").forEach((o, k) => (b[4 + k] = Number(o)));
    b.writeUInt16BE(i.sourcePort, 8);
    b.writeUInt16BE(i.destinationPort, 10);
    return { family: 0x11, block: b };
  }
  if (isIPv6(i.sourceAddress) && isIPv6(i.destinationAddress)) {
    const b = Buffer.alloc(36);
    ipv6Bytes(i.sourceAddress).copy(b, 0);
    ipv6Bytes(i.destinationAddress).copy(b, 16);
    b.writeUInt16BE(i.sourcePort, 32);
    b.writeUInt16BE(i.destinationPort, 34);
    return { family: 0x21, block: b };
  }
  return { family: 0x00, block: Buffer.alloc(0) }; // UNSPEC: the receiver uses the real addresses
}

function ipv6Bytes(a: string): Buffer {
  return Buffer.from(ipaddr.IPv6.parse(a).toByteArray());
}

export function encodeProxyV2(i: ProxyHeaderInput): Buffer {
  const { family, block } = addressBlock(i);
  const tlvs: Buffer[] = [];
  if (i.alpn) tlvs.push(tlv(PP2.ALPN, Buffer.from(i.alpn)));
  if (i.serverName) tlvs.push(tlv(PP2.AUTHORITY, Buffer.from(i.serverName)));
  if (i.tls) {
    const subs = [tlv(PP2.SUBTYPE_SSL_VERSION, Buffer.from(i.tls.version)), tlv(PP2.SUBTYPE_SSL_CIPHER, Buffer.from(i.tls.cipher))];
    if (i.tls.clientCommonName !== undefined) subs.push(tlv(PP2.SUBTYPE_SSL_CN, Buffer.from(i.tls.clientCommonName)));
    const head = Buffer.alloc(5);
    const verified = i.tls.clientCommonName !== undefined || i.tls.clientIdentity !== undefined;
    head[0] = PP2.CLIENT_SSL | (verified ? PP2.CLIENT_CERT_CONN | PP2.CLIENT_CERT_SESS : 0);
    head.writeUInt32BE(0, 1); // verify: 0 = the client certificate (if any) was verified
    tlvs.push(tlv(PP2.SSL, Buffer.concat([head, ...subs])));
    if (i.tls.clientIdentity !== undefined) tlvs.push(tlv(WEFT_TLV_IDENTITY, Buffer.from(i.tls.clientIdentity)));
  }
  const body = Buffer.concat([block, ...tlvs]);
  const head = Buffer.alloc(16);
  SIGNATURE.copy(head, 0);
  head[12] = 0x21; // version 2, command PROXY
  head[13] = family;
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}
