// TCP (framing, several queries per connection, idle timeout) and UDP size limits (TC without
// EDNS0 over 512 bytes, EDNS0 buffer sizes respected, our OPT record echoed, BADVERS).
import { connect } from "node:net";
import dns2 from "dns2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import type { RunningDns } from "./main.js";
import { dig } from "./test-support/dig.js";
import { startFakeUpstream, type FakeUpstream } from "./test-support/fake-upstream.js";
import { ancountOf, buildQuery, frame, rcodeOf, tcpExchange, udpExchange } from "./test-support/raw-client.js";
import { nodeResolver, route, startTestDns } from "./test-support/start-dns.js";

const { Packet } = dns2;

describe("weft dns: TCP", () => {
  let upstream: FakeUpstream;
  let dns: RunningDns;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    dns = await startTestDns({ upstreams: [{ host: "127.0.0.1", port: upstream.port }], tcpIdleTimeoutMs: 400 });
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("backend.apps.internal", 3), route("many.apps.internal", 200, 2)], removedHosts: [] });
  });
  afterAll(async () => {
    await dns.stop();
    await upstream.close();
  });

  it("answers over TCP with dig, for internal and forwarded names", async () => {
    const r = await dig(dns.tcpPort, ["backend.apps.internal", "+tcp"]);
    expect(r.status).toBe("NOERROR");
    expect(r.addresses).toHaveLength(3);
    const big = await dig(dns.tcpPort, ["many.apps.internal", "+tcp", "+noedns"]);
    expect(big.addresses).toHaveLength(200);
    expect(big.flags).not.toContain("tc");
    expect((await dig(dns.tcpPort, ["nx.example.test", "+tcp"])).status).toBe("NXDOMAIN");
  });

  it("answers several pipelined queries on one connection, split across writes", async () => {
    const queries = [
      buildQuery("backend.apps.internal", { id: 1 }),
      buildQuery("0.backend.apps.internal", { id: 2 }),
      buildQuery("ok.example.test", { id: 3 }),
      buildQuery("nosuch.apps.internal", { id: 4, type: 28 }),
      buildQuery("many.apps.internal", { id: 5 }),
    ];
    const stream = Buffer.concat(queries.map(frame));
    const replies = await tcpExchange(dns.tcpPort, stream, queries.length);
    const byId = new Map(replies.map((r) => [r.readUInt16BE(0), r]));
    expect([...byId.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(ancountOf(byId.get(1)!)).toBe(3);
    expect(ancountOf(byId.get(2)!)).toBe(1);
    expect(Packet.parse(byId.get(3)!).answers[0]?.address).toBe("192.0.2.10");
    expect(ancountOf(byId.get(4)!)).toBe(0);
    expect(ancountOf(byId.get(5)!)).toBe(200);

    // The same, one byte per write.
    const sock = connect({ host: "127.0.0.1", port: dns.tcpPort });
    sock.setNoDelay(true);
    let got = Buffer.alloc(0);
    sock.on("data", (c: Buffer) => (got = Buffer.concat([got, c])));
    await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
    const one = frame(buildQuery("backend.apps.internal", { id: 9 }));
    for (const byte of one) sock.write(Buffer.from([byte]));
    await eventually(() => expect(got.length).toBeGreaterThanOrEqual(2 + got.readUInt16BE(0)));
    expect(got.readUInt16BE(2)).toBe(9);
    sock.destroy();
  });

  it("closes idle connections, including one whose length prefix promises bytes that never come", async () => {
    for (const payload of [Buffer.alloc(0), Buffer.from([0xff, 0xff, 1, 2, 3])]) {
      const sock = connect({ host: "127.0.0.1", port: dns.tcpPort });
      let closed = false;
      sock.on("close", () => (closed = true));
      sock.on("error", () => undefined);
      sock.write(payload);
      const started = Date.now();
      await eventually(() => expect(closed).toBe(true), { timeoutMs: 3000 });
      expect(Date.now() - started).toBeLessThan(2500);
    }
  });

  it("answers a query whose client half-closes right after sending it", async () => {
    const sock = connect({ host: "127.0.0.1", port: dns.tcpPort });
    let got = Buffer.alloc(0);
    let ended = false;
    sock.on("data", (c: Buffer) => (got = Buffer.concat([got, c])));
    sock.on("end", () => (ended = true));
    sock.end(frame(buildQuery("ok.example.test", { id: 11 })));
    await eventually(() => expect(ended).toBe(true));
    expect(got.readUInt16BE(2)).toBe(11);
    expect(rcodeOf(got.subarray(2))).toBe(0);
  });
});

describe("weft dns: UDP size limits", () => {
  let dns: RunningDns;
  beforeAll(async () => {
    dns = await startTestDns({ ednsUdpSize: 4096 });
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("sixty.apps.internal", 60), route("many.apps.internal", 200, 2)], removedHosts: [] });
  });
  afterAll(() => dns.stop());

  it("sets TC over 512 bytes without EDNS0, and dig retries over TCP to get everything", async () => {
    const cut = await dig(dns.udpPort, ["sixty.apps.internal", "+noedns", "+ignore"]);
    expect(cut.flags).toContain("tc");
    expect(cut.addresses.length).toBeGreaterThan(0);
    expect(cut.addresses.length).toBeLessThan(60);
    const raw = await udpExchange(dns.udpPort, buildQuery("sixty.apps.internal"));
    expect(raw!.length).toBeLessThanOrEqual(512);
    const full = await dig(dns.udpPort, ["sixty.apps.internal", "+noedns"]);
    expect(full.retriedOverTcp).toBe(true);
    expect(full.addresses).toHaveLength(60);
  });

  it("respects the EDNS0 buffer size and echoes an OPT record", async () => {
    const fits = await dig(dns.udpPort, ["sixty.apps.internal", "+bufsize=1232"]);
    expect(fits.retriedOverTcp).toBe(false);
    expect(fits.flags).not.toContain("tc");
    expect(fits.addresses).toHaveLength(60);
    expect(fits.serverUdpSize).toBe(4096);
    const small = await dig(dns.udpPort, ["sixty.apps.internal", "+bufsize=512", "+ignore"]);
    expect(small.flags).toContain("tc");
    const mid = await dig(dns.udpPort, ["many.apps.internal", "+bufsize=1232", "+ignore"]);
    expect(mid.flags).toContain("tc");
    expect(mid.addresses.length).toBe(Math.floor((1232 - 11 - 12 - 24) / 16));
    const large = await dig(dns.udpPort, ["many.apps.internal", "+bufsize=4096"]);
    expect(large.flags).not.toContain("tc");
    expect(large.addresses).toHaveLength(200);
    // Node's resolver (c-ares) falls back to TCP on TC by itself.
    expect(await nodeResolver(dns.udpPort).resolve4("many.apps.internal")).toHaveLength(200);
  });

  it("caps the EDNS0 size at its own configured maximum", async () => {
    const capped = await startTestDns({ ednsUdpSize: 1232 });
    try {
      capped.registry.apply({ revision: 1, snapshot: true, routes: [route("many.apps.internal", 200)], removedHosts: [] });
      const r = await dig(capped.udpPort, ["many.apps.internal", "+bufsize=4096", "+ignore"]);
      expect(r.flags).toContain("tc");
      expect(r.serverUdpSize).toBe(1232);
    } finally {
      await capped.stop();
    }
  });

  it("answers EDNS version 1 with BADVERS", async () => {
    const r = await dig(dns.udpPort, ["sixty.apps.internal", "+edns=1", "+noednsnegotiation"]);
    expect(r.status).toBe("BADVERS");
    const raw = await udpExchange(dns.udpPort, buildQuery("sixty.apps.internal", { ednsUdpSize: 1232, ednsVersion: 1 }));
    expect(rcodeOf(raw!)).toBe(0);
    expect(raw![raw!.length - 6]).toBe(1); // extended rcode in the OPT record's TTL
  });
});
