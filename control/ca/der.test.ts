// The DER reader refuses everything that is not strict DER, and the writer's encodings match what
// the standards (and openssl) expect.
import { describe, expect, it } from "vitest";
import { isWeftError } from "../../common/errors.js";
import { children, decodeOid, oid, readRoot, readTlv, time, unsignedInteger, unpem, value } from "./der.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s/g, ""), "hex");

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isWeftError(err, "INVALID_ARGUMENT")).toBe(true);
    return (err as Error).message;
  }
  throw new Error("not refused");
}

describe("DER reader", () => {
  it("reads nested values within their bounds", () => {
    const buf = hex("30 06 02 01 05 04 01 ff");
    const root = readRoot(buf);
    const [a, b] = children(buf, root);
    expect(value(buf, a!)).toEqual(hex("05"));
    expect(value(buf, b!)).toEqual(hex("ff"));
  });

  it("refuses indefinite, non-minimal, oversized and truncated lengths, and trailing bytes", () => {
    expect(refused(() => readRoot(hex("30 80 00 00")))).toMatch(/indefinite/);
    expect(refused(() => readRoot(hex("04 81 05 0102030405")))).toMatch(/non-minimal/);
    expect(refused(() => readRoot(hex("04 82 0005 0102030405")))).toMatch(/non-minimal/);
    expect(refused(() => readRoot(hex("04 84 00000001 00")))).toMatch(/too large/);
    expect(refused(() => readRoot(hex("04 05 0102")))).toMatch(/past its container/);
    expect(refused(() => readRoot(hex("04 01 01 00")))).toMatch(/trailing/);
    expect(refused(() => readRoot(hex("1f 01 00")))).toMatch(/multi-byte tags/);
    expect(refused(() => readTlv(hex("30"), 0))).toMatch(/truncated/);
    // A child that claims more than its parent holds.
    expect(refused(() => children(hex("30 03 04 05 00 00 00 00"), readTlv(hex("30 03 04 05 00 00 00 00"), 0)))).toMatch(/past/);
    expect(refused(() => children(hex("04 01 00"), readRoot(hex("04 01 00"))))).toMatch(/not constructed/);
  });

  it("decodes and encodes OIDs", () => {
    for (const o of ["1.2.840.10045.4.3.2", "2.5.29.17", "1.3.6.1.5.5.7.3.1", "2.999.3"]) {
      const enc = oid(o);
      expect(decodeOid(enc.subarray(2))).toBe(o);
    }
    expect(oid("1.2.840.10045.3.1.7")).toEqual(hex("06 08 2a 86 48 ce 3d 03 01 07"));
    expect(refused(() => decodeOid(hex("2a 80 01")))).toMatch(/non-minimal/);
    expect(refused(() => decodeOid(hex("2a 86")))).toMatch(/truncated/);
  });

  it("encodes positive integers minimally", () => {
    expect(unsignedInteger(hex("00 00 7f"))).toEqual(hex("02 01 7f"));
    expect(unsignedInteger(hex("80"))).toEqual(hex("02 02 00 80"));
    expect(unsignedInteger(hex("00"))).toEqual(hex("02 01 00"));
  });

  it("uses UTCTime through 2049 and GeneralizedTime from 2050", () => {
    expect(time(Date.UTC(2026, 10, 26, 7, 5, 9, 999)).toString("latin1")).toBe("\x17\x0d261126070509Z");
    expect(time(Date.UTC(2050, 0, 1)).toString("latin1")).toBe("\x18\x0f20500101000000Z");
  });

  it("decodes PEM with the expected label only", () => {
    expect(unpem("-----BEGIN X-----\nAQI=\n-----END X-----\n", ["X"], "thing")).toEqual(hex("0102"));
    expect(refused(() => unpem("-----BEGIN Y-----\nAQI=\n-----END Y-----\n", ["X"], "thing"))).toMatch(/not PEM/);
    expect(refused(() => unpem("garbage", ["X"], "thing"))).toMatch(/not PEM/);
    expect(refused(() => unpem(`-----BEGIN X-----\n${"A".repeat(40_000)}\n-----END X-----\n`, ["X"], "thing"))).toMatch(/too large/);
  });
});
