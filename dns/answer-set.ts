// Pre-encoded A records for one name. The registry builds these when it changes, so answering a
// query is a copy of ready bytes rather than building records per query.
//
// Every record is 16 bytes: a compression pointer to the question name at offset 12 (so the answer
// carries the name exactly as the client spelled it, which 0x20 case-randomising resolvers check),
// TYPE A, CLASS IN, the TTL, RDLENGTH 4 and the address. Records of one name differ only in the last
// 4 bytes, so shuffling them per query means swapping 32-bit words (see response-builder.ts).
import { CLASS_IN, TYPE_A, intToIpv4 } from "./wire.js";

export const RECORD_SIZE = 16;
/** Offset of the address inside a record. */
export const RECORD_ADDRESS_OFFSET = 12;

export interface AnswerSet {
  readonly count: number;
  /** count * RECORD_SIZE bytes of encoded A records. */
  readonly records: Buffer;
}

export function encodeAnswerSet(addresses: readonly number[], ttlSeconds: number): AnswerSet {
  const records = Buffer.allocUnsafe(addresses.length * RECORD_SIZE);
  addresses.forEach((ip, i) => {
    const o = i * RECORD_SIZE;
    records[o] = 0xc0;
    records[o + 1] = 0x0c;
    records.writeUInt16BE(TYPE_A, o + 2);
    records.writeUInt16BE(CLASS_IN, o + 4);
    records.writeUInt32BE(ttlSeconds, o + 6);
    records.writeUInt16BE(4, o + 10);
    records.writeUInt32BE(ip, o + RECORD_ADDRESS_OFFSET);
  });
  return Object.freeze({ count: addresses.length, records });
}

/** The addresses of an answer set, in encoded order (for tests and debugging). */
export function answerAddresses(set: AnswerSet): string[] {
  const out: string[] = [];
  for (let i = 0; i < set.count; i++) out.push(intToIpv4(set.records.readUInt32BE(i * RECORD_SIZE + RECORD_ADDRESS_OFFSET)));
  return out;
}
