import dns2 from "dns2";
import { describe, expect, it } from "vitest";
import { encodeAnswerSet, type AnswerSet } from "./answer-set.js";
import { parseQuery, type ParseResult, type Query } from "./query-parser.js";
import { buildAnswer, buildEmpty, buildHeaderOnly, responseLimit } from "./response-builder.js";
import { buildQuery } from "./test-support/raw-client.js";
import { RCODE_FORMERR, RCODE_NOTIMP, hashWire, ipv4ToInt, isWithinDomain, nameToWire, wireToName } from "./wire.js";

const { Packet } = dns2;

/** An answer set laid out as in the registry's packed table: count (u16), then the records. */
function packed(set: AnswerSet): Buffer {
  const count = Buffer.alloc(2);
  count.writeUInt16BE(set.count, 0);
  return Buffer.concat([count, set.records]);
}

function query(r: ParseResult): Query {
  if (r.kind !== "query") throw new Error(`expected a query, got ${JSON.stringify(r)}`);
  return r;
}

describe("parseQuery", () => {
  it("reads the question, lower-cases the key and keeps the question bytes as sent", () => {
    const msg = buildQuery("Backend.APPS.internal", { id: 0xbeef, type: 28 });
    const q = query(parseQuery(msg));
    expect(wireToName(msg, 12, q.nameEnd)).toBe("Backend.APPS.internal");
    expect(q.nameHash).toBe(hashWire(nameToWire("backend.apps.internal"), 0, nameToWire("backend.apps.internal").length));
    expect(q.qtype).toBe(28);
    expect(q.qclass).toBe(1);
    expect(q.rd).toBe(1);
    expect(q.ednsUdpSize).toBe(0);
    expect(msg.toString("latin1", 13, q.questionEnd - 5)).toContain("Backend");
    expect(q.questionEnd).toBe(msg.length);
  });

  it("reads the OPT record: UDP size, version and DO bit", () => {
    const q = query(parseQuery(buildQuery("a.apps.internal", { ednsUdpSize: 1232, dnssecOk: true })));
    expect(q.ednsUdpSize).toBe(1232);
    expect(q.ednsVersion).toBe(0);
    expect(q.ednsDo).toBe(true);
  });

  it("drops what is not a query and answers FORMERR or NOTIMP for what it cannot read", () => {
    const good = buildQuery("a.apps.internal");
    expect(parseQuery(good.subarray(0, 11))).toEqual({ kind: "drop", reason: "short" });
    const response = Buffer.from(good);
    response[2] = response[2]! | 0x80;
    expect(parseQuery(response)).toEqual({ kind: "drop", reason: "response" });
    const notify = Buffer.from(good);
    notify[2] = 4 << 3;
    expect(parseQuery(notify)).toEqual({ kind: "error", rcode: RCODE_NOTIMP });

    const formerr = { kind: "error", rcode: RCODE_FORMERR };
    const twoQuestions = Buffer.from(good);
    twoQuestions.writeUInt16BE(2, 4);
    expect(parseQuery(twoQuestions)).toEqual(formerr);
    expect(parseQuery(good.subarray(0, good.length - 1))).toEqual(formerr); // truncated question
    expect(parseQuery(Buffer.concat([good, Buffer.from([0])]))).toEqual(formerr); // trailing byte
    const lyingCount = Buffer.from(good);
    lyingCount.writeUInt16BE(1, 10); // claims an additional record that is not there
    expect(parseQuery(lyingCount)).toEqual(formerr);
    // A compression pointer in the question (to itself: a loop).
    const loop = Buffer.concat([good.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect(parseQuery(loop)).toEqual(formerr);
    // A label longer than 63 bytes, and a name longer than 255.
    expect(parseQuery(Buffer.concat([good.subarray(0, 12), Buffer.from([64]), Buffer.alloc(64, 97), Buffer.from([0, 0, 1, 0, 1])]))).toEqual(formerr);
    const longName = Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 97)])), Buffer.from([0])]);
    expect(parseQuery(Buffer.concat([good.subarray(0, 12), longName, Buffer.from([0, 1, 0, 1])]))).toEqual(formerr);
  });

  it("rejects a second OPT record, an OPT not owned by the root, and options that overrun", () => {
    const withOpt = buildQuery("a.apps.internal", { ednsUdpSize: 1232 });
    const opt = withOpt.subarray(withOpt.length - 11);
    const two = Buffer.concat([withOpt, opt]);
    two.writeUInt16BE(2, 10);
    expect(parseQuery(two).kind).toBe("error");
    const named = Buffer.concat([withOpt.subarray(0, withOpt.length - 11), Buffer.from([1, 97]), opt]);
    expect(parseQuery(named).kind).toBe("error");
    const overrun = Buffer.concat([withOpt.subarray(0, withOpt.length - 2), Buffer.from([0, 4, 0, 10, 0, 9])]);
    expect(parseQuery(overrun).kind).toBe("error");
  });

  it("skips other additional records without following their compression pointers", () => {
    const base = buildQuery("a.apps.internal");
    // An additional record whose name is a pointer back to the question name.
    const rr = Buffer.from([0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 120]);
    const msg = Buffer.concat([base, rr]);
    msg.writeUInt16BE(1, 10);
    expect(parseQuery(msg).kind).toBe("query");
    // A forward pointer (or one to itself) is malformed.
    const forward = Buffer.from(msg);
    forward.writeUInt16BE(0xc000 | (base.length + 4), base.length);
    expect(parseQuery(forward).kind).toBe("error");
  });
});

describe("response builder, checked with dns2's independent decoder", () => {
  it("answers with every address once, the question as sent, AA and the TTL", () => {
    const msg = buildQuery("Web.Apps.Internal", { id: 77, ednsUdpSize: 1232, dnssecOk: true });
    const q = query(parseQuery(msg));
    const ips = ["10.255.0.2", "10.255.0.3", "10.255.0.4"];
    const set = encodeAnswerSet(ips.map((ip) => ipv4ToInt(ip)!), 5);
    const packet = Packet.parse(buildAnswer(msg, q, packed(set), 0, responseLimit(q, true, 4096), 4096));
    expect(packet.header).toMatchObject({ id: 77, qr: 1, aa: 1, tc: 0, rd: 1, ra: 1, rcode: 0 });
    expect(packet.questions[0]).toMatchObject({ name: "Web.Apps.Internal", type: 1, class: 1 });
    expect(packet.answers.map((a) => a.address).sort()).toEqual(ips);
    expect(packet.answers.every((a) => a.ttl === 5 && a.name === "Web.Apps.Internal")).toBe(true);
    const opt = packet.additionals.find((r) => r.type === 41);
    expect(opt?.class).toBe(4096);
  });

  it("cuts an oversized UDP answer to whole records with TC", () => {
    const msg = buildQuery("many.apps.internal");
    const q = query(parseQuery(msg));
    const set = encodeAnswerSet(Array.from({ length: 100 }, (_, i) => 0x0aff0000 + i), 0);
    const out = buildAnswer(msg, q, packed(set), 0, responseLimit(q, true, 4096), 4096);
    expect(out.length).toBeLessThanOrEqual(512);
    const packet = Packet.parse(out);
    expect(packet.header.tc).toBe(1);
    expect(packet.answers.length).toBe(Math.floor((512 - q.questionEnd) / 16));
    expect(new Set(packet.answers.map((a) => a.address)).size).toBe(packet.answers.length);
  });

  it("builds NODATA, SERVFAIL and header-only errors", () => {
    const msg = buildQuery("x.apps.internal", { id: 9, type: 33 });
    const q = query(parseQuery(msg));
    const nodata = Packet.parse(buildEmpty(msg, q, 0, true, 4096));
    expect(nodata.header).toMatchObject({ id: 9, aa: 1, rcode: 0, qdcount: 1, ancount: 0 });
    expect(Packet.parse(buildEmpty(msg, q, 2, false, 4096)).header).toMatchObject({ aa: 0, rcode: 2 });
    const formerr = buildHeaderOnly(msg, RCODE_FORMERR);
    expect(formerr.length).toBe(12);
    expect(Packet.parse(formerr).header).toMatchObject({ id: 9, qr: 1, rcode: 1, qdcount: 0 });
  });
});

describe("names", () => {
  it("matches internal domains on label boundaries only", () => {
    const domain = nameToWire("apps.internal");
    const within = (name: Buffer) => isWithinDomain(name, 0, name.length, domain);
    expect(within(nameToWire("apps.internal"))).toBe(true);
    expect(within(nameToWire("a.b.APPS.Internal"))).toBe(true);
    expect(within(nameToWire("myapps.internal"))).toBe(false);
    expect(within(nameToWire("internal"))).toBe(false);
    // A label whose bytes end in "\x04apps", followed by "internal": not below apps.internal.
    expect(within(Buffer.from("\x06x\x04apps\x08internal", "latin1"))).toBe(false);
  });
});
