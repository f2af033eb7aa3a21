// Hostile input: 10,000+ generated malformed packets (seeded, so a failure replays with
// WEFT_DNS_HOSTILE_SEED=<seed>) over UDP and TCP, with real queries in between that must all be
// answered, and the server alive and error-free at the end.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import type { RunningDns } from "./main.js";
import { dig } from "./test-support/dig.js";
import { Prng } from "../test/support/prng.js";
import { ancountOf, buildQuery, frame, rcodeOf, tcpExchange, udpExchange } from "./test-support/raw-client.js";
import { nodeResolver, route, startTestDns } from "./test-support/start-dns.js";
import { parseQuery } from "./query-parser.js";

const SEED = Number(process.env.WEFT_DNS_HOSTILE_SEED ?? 0x5eed);
const UDP_BATCHES = 100;
const PER_BATCH = 100;
const TCP_CONNECTIONS = 200;

function randomName(rng: Prng): string {
  const labels = Array.from({ length: 1 + rng.int(4) }, () => Array.from({ length: 1 + rng.int(12) }, () => String.fromCharCode(97 + rng.int(26))).join(""));
  return [...labels, rng.pick(["apps.internal", "example.test", "APPS.Internal"])].join(".");
}

function validQuery(rng: Prng): Buffer {
  return buildQuery(randomName(rng), { id: rng.int(0x10000), type: rng.pick([1, 28, 33, 255]), ...(rng.int(2) ? { ednsUdpSize: rng.int(0x10000) } : {}) });
}

const generators: Record<string, (rng: Prng) => Buffer> = {
  "truncated header": (rng) => rng.bytes(rng.int(12)),
  "truncated query": (rng) => {
    const q = validQuery(rng);
    return q.subarray(0, 12 + rng.int(q.length - 12));
  },
  "pointer loop in the question": (rng) => {
    const q = validQuery(rng);
    const pointer = rng.pick([[0xc0, 0x0c], [1, 97, 0xc0, 0x0c], [0xc0, 0x0e, 0xc0, 0x0c], [0xff, 0xff]]);
    return Buffer.concat([q.subarray(0, 12), Buffer.from(pointer), Buffer.from([0, 1, 0, 1])]);
  },
  "pointer loop in an additional record": (rng) => {
    const q = validQuery(rng);
    const at = q.length;
    const rr = Buffer.from([0xc0 | (at >> 8), at & 0xff, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
    const out = Buffer.concat([q, rr]);
    out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
    return out;
  },
  "wrong counts": (rng) => {
    const q = validQuery(rng);
    q.writeUInt16BE(rng.pick([0, 2, 3, 0xffff, rng.int(0x10000)]), 4 + 2 * rng.int(4));
    return q;
  },
  "random bytes": (rng) => {
    const b = rng.bytes(12 + rng.int(1500));
    if (rng.int(2)) b[2] = b[2]! & 0x07; // a query with opcode 0 half of the time, so it gets past the header
    return b;
  },
  "bad labels": (rng) => {
    const q = validQuery(rng);
    const len = rng.pick([64, 0x80, 0xbf, 0xff]);
    const name = rng.int(2) ? Buffer.concat([Buffer.from([len]), rng.bytes(rng.int(80))]) : Buffer.concat([...Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 97)])), Buffer.from([0])]);
    return Buffer.concat([q.subarray(0, 12), name, Buffer.from([0, 1, 0, 1])]);
  },
  "bad OPT": (rng) => {
    const q = buildQuery(randomName(rng), { ednsUdpSize: 1232 });
    const variant = rng.int(3);
    if (variant === 0) return Buffer.concat([q.subarray(0, q.length - 2), Buffer.from([0xff, 0xff])]);
    if (variant === 1) {
      const two = Buffer.concat([q, q.subarray(q.length - 11)]);
      two.writeUInt16BE(2, 10);
      return two;
    }
    return Buffer.concat([q.subarray(0, q.length - 2), Buffer.from([0, 4, 0, 8, 0, 200])]);
  },
  "bit flips": (rng) => {
    const q = validQuery(rng);
    for (let i = 0, n = 1 + rng.int(4); i < n; i++) q[rng.int(q.length)] = rng.int(256);
    return q;
  },
};

describe("query parser on generated malformed packets", () => {
  it("classifies every kind of malformation as expected, never throwing", () => {
    const rng = new Prng(SEED + 2);
    const expected: Record<string, string> = {
      "truncated header": "drop",
      "truncated query": "error",
      "pointer loop in the question": "error",
      "pointer loop in an additional record": "error",
      "bad labels": "error",
      "bad OPT": "error",
    };
    for (const [kind, generate] of Object.entries(generators)) {
      const seen = new Set<string>();
      for (let i = 0; i < 1000; i++) {
        const result = parseQuery(generate(rng));
        seen.add(result.kind);
        if (expected[kind]) expect(result.kind, kind).toBe(expected[kind]);
      }
      if (!expected[kind]) expect(seen.size, `${kind} should produce a mix`).toBeGreaterThan(1);
    }
  });
});

describe("weft dns: hostile packets", () => {
  let dns: RunningDns;
  let hostile: UdpSocket;
  const replies: Buffer[] = [];
  const sentByKind = new Map<string, number>();
  beforeAll(async () => {
    dns = await startTestDns({ tcpIdleTimeoutMs: 300, upstreams: [] });
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("backend.apps.internal", 3)], removedHosts: [] });
    hostile = createSocket("udp4");
    hostile.on("message", (msg) => replies.push(msg));
    await new Promise<void>((resolve) => hostile.bind(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    hostile.close();
    await dns.stop();
  });

  it(`survives ${UDP_BATCHES * PER_BATCH} malformed UDP packets, answering every real query in between (seed ${SEED})`, async () => {
    const rng = new Prng(SEED);
    const kinds = Object.keys(generators);
    const resolver = nodeResolver(dns.udpPort);
    for (let batch = 0; batch < UDP_BATCHES; batch++) {
      for (let i = 0; i < PER_BATCH; i++) {
        const kind = rng.pick(kinds);
        sentByKind.set(kind, (sentByKind.get(kind) ?? 0) + 1);
        hostile.send(generators[kind]!(rng), dns.udpPort, "127.0.0.1");
      }
      // A real query after every batch, by one of three clients; each must be answered.
      if (batch % 10 === 0) {
        expect((await dig(dns.udpPort, ["backend.apps.internal"])).addresses, `batch ${batch}`).toHaveLength(3);
      } else if (batch % 10 === 5) {
        expect(await resolver.resolve4("1.backend.apps.internal"), `batch ${batch}`).toEqual(["10.255.1.3"]);
      } else {
        const reply = await udpExchange(dns.udpPort, buildQuery("Backend.apps.internal", { id: batch }), 2000);
        expect(reply, `batch ${batch}: no answer`).toBeDefined();
        expect(reply!.readUInt16BE(0)).toBe(batch);
        expect(ancountOf(reply!)).toBe(3);
      }
    }
    expect([...sentByKind.values()].reduce((a, b) => a + b, 0)).toBe(UDP_BATCHES * PER_BATCH);

    // Every reply to a hostile packet is a well-formed response header; malformed queries got FORMERR.
    await eventually(() => expect(replies.length).toBeGreaterThan(1000));
    for (const r of replies) {
      expect(r.length).toBeGreaterThanOrEqual(12);
      expect(r[2]! & 0x80).toBe(0x80);
    }
    const rcodes = new Map<number, number>();
    for (const r of replies) rcodes.set(rcodeOf(r), (rcodes.get(rcodeOf(r)) ?? 0) + 1);
    expect(rcodes.get(1) ?? 0).toBeGreaterThan(1000); // FORMERR
    expect(dns.stats.dropped).toBeGreaterThan(0); // short packets and "responses" were dropped
    expect(dns.stats.internalErrors).toBe(0);
  });

  it(`survives ${TCP_CONNECTIONS} hostile TCP streams (junk frames, oversized length prefixes), still answering`, async () => {
    const rng = new Prng(SEED + 1);
    const kinds = Object.keys(generators);
    const closed: Promise<void>[] = [];
    for (let c = 0; c < TCP_CONNECTIONS; c++) {
      const sock = connect({ host: "127.0.0.1", port: dns.tcpPort });
      sock.on("error", () => undefined);
      sock.on("data", () => undefined);
      closed.push(new Promise((resolve) => sock.once("close", () => resolve())));
      const parts: Buffer[] = [];
      for (let f = 0, n = 1 + rng.int(8); f < n; f++) {
        const mode = rng.int(4);
        if (mode === 0) parts.push(frame(generators[rng.pick(kinds)]!(rng)));
        else if (mode === 1) parts.push(rng.bytes(1 + rng.int(64)));
        else if (mode === 2) parts.push(Buffer.concat([Buffer.from([0xff, 0xff]), rng.bytes(rng.int(100))]));
        else parts.push(frame(rng.bytes(rng.int(12))));
      }
      sock.write(Buffer.concat(parts));
      if (rng.int(2)) sock.end();
    }
    // Connections the server waits on (a partial frame) are closed by its idle timeout.
    await Promise.all(closed);

    // Frames too short for a header are skipped; the query after them is answered; junk gets FORMERR.
    const stream = Buffer.concat([frame(Buffer.alloc(0)), frame(Buffer.from([1, 2, 3])), frame(buildQuery("backend.apps.internal", { id: 42 })), frame(Buffer.alloc(40, 0))]);
    const [answer, formerr] = await tcpExchange(dns.tcpPort, stream, 2);
    expect(answer!.readUInt16BE(0)).toBe(42);
    expect(ancountOf(answer!)).toBe(3);
    expect(rcodeOf(formerr!)).toBe(1);
    expect((await dig(dns.tcpPort, ["backend.apps.internal", "+tcp"])).addresses).toHaveLength(3);
    expect((await dig(dns.udpPort, ["backend.apps.internal"])).addresses).toHaveLength(3);
    expect(dns.stats.internalErrors).toBe(0);
  });
});
