// The native UDP path (native-udp.ts, the weft-dns-udp addon) with real packets: many queries that
// arrive together are answered in batches, each with its own ID and to its own sender; datagrams
// of every size (a 64 KiB one, truncated ones, garbage, responses) get what the parser says; answers
// larger than the shared output buffer still go out; and without the addon the server says so once
// and serves with node:dgram.
import { createSocket, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { pino } from "pino";
import { DnsStats } from "./dns-metrics.js";
import { Forwarder } from "./forwarder.js";
import { loadNativeUdp } from "./native-udp.js";
import { QueryHandler } from "./query-handler.js";
import { DnsRegistry } from "./registry.js";
import type { RunningDns } from "./main.js";
import { ancountOf, buildQuery, rcodeOf, udpExchange } from "./test-support/raw-client.js";
import { route, startTestDns } from "./test-support/start-dns.js";
import { startUdpListener } from "./udp-listener.js";
import { RCODE_FORMERR, RCODE_NOERROR } from "./wire.js";

const running: RunningDns[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function start(overrides: Parameters<typeof startTestDns>[0] = {}): Promise<RunningDns> {
  const dns = await startTestDns({ udpIo: "native", ...overrides });
  running.push(dns);
  return dns;
}

/** A client socket that collects every reply by ID. */
async function client(): Promise<{ sock: Socket; replies: Map<number, Buffer> }> {
  const sock = createSocket("udp4");
  sockets.push(sock);
  const replies = new Map<number, Buffer>();
  sock.on("message", (msg) => replies.set(msg.readUInt16BE(0), msg));
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return { sock, replies };
}

describe("native UDP path", () => {
  it("is what weft dns uses when the addon is built (npm run build:dns-udp)", async () => {
    const addon = loadNativeUdp();
    expect(addon instanceof Error ? addon.message : "loaded").toBe("loaded");
    const dns = await start();
    expect(dns.udpIo).toBe("native");
  });

  it("answers 2,000 queries sent at once from 4 sockets, each to its sender with its ID", async () => {
    const dns = await start();
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("one.apps.internal", 1, 1), route("three.apps.internal", 3, 2)], removedHosts: [] });
    const clients = await Promise.all([client(), client(), client(), client()]);
    const expected = new Map<string, { name: string; answers: number }>();
    for (let id = 0; id < 2000; id++) {
      const c = id % 4;
      const [name, answers] = id % 3 === 0 ? ["three.apps.internal", 3] : id % 3 === 1 ? ["ONE.apps.internal", 1] : [`miss${id}.apps.internal`, 0];
      expected.set(`${c}/${id}`, { name, answers });
      clients[c]!.sock.send(buildQuery(name, { id, ...(id % 2 ? { ednsUdpSize: 1232 } : {}) }), dns.udpPort, "127.0.0.1");
    }
    // UDP on loopback can still drop when a socket buffer fills: resend what is missing.
    await eventually(
      () => {
        let missing = 0;
        for (const [key, { name }] of expected) {
          const [c, id] = key.split("/").map(Number) as [number, number];
          if (!clients[c]!.replies.has(id)) {
            missing++;
            clients[c]!.sock.send(buildQuery(name, { id, ...(id % 2 ? { ednsUdpSize: 1232 } : {}) }), dns.udpPort, "127.0.0.1");
          }
        }
        expect(missing).toBe(0);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    for (const [key, { name, answers }] of expected) {
      const [c, id] = key.split("/").map(Number) as [number, number];
      const reply = clients[c]!.replies.get(id)!;
      expect(rcodeOf(reply)).toBe(RCODE_NOERROR);
      expect(ancountOf(reply)).toBe(answers);
      // The question comes back as sent (case kept), so each reply matches its own query.
      expect(reply.subarray(12, 12 + name.length + 2).toString("latin1").toLowerCase()).toContain(name.split(".")[0]!.toLowerCase());
      expect(reply.readUInt16BE(10)).toBe(id % 2 ? 1 : 0);
    }
    expect(dns.stats.internalErrors).toBe(0);
  });

  it("reads datagrams of any size: a 64 KiB one, truncated ones, garbage and responses, and keeps answering", async () => {
    const dns = await start();
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("app.apps.internal", 2)], removedHosts: [] });
    // The largest UDP payload over IPv4: a query whose trailing bytes make it malformed -> FORMERR.
    const huge = Buffer.concat([buildQuery("app.apps.internal", { id: 7 }), Buffer.alloc(65507 - 35, 0x41)]).subarray(0, 65507);
    const hugeReply = await udpExchange(dns.udpPort, huge);
    expect(hugeReply && rcodeOf(hugeReply)).toBe(RCODE_FORMERR);
    expect(hugeReply!.readUInt16BE(0)).toBe(7);
    // A large but valid query: its additional section is a padding-like EDNS option 4,000 bytes long.
    const padded = buildQuery("app.apps.internal", { id: 8, ednsUdpSize: 4096 });
    const option = Buffer.alloc(4 + 4000);
    option.writeUInt16BE(12, 0);
    option.writeUInt16BE(4000, 2);
    padded.writeUInt16BE(4000 + 4, padded.length - 2);
    const paddedReply = await udpExchange(dns.udpPort, Buffer.concat([padded, option]));
    expect(paddedReply && rcodeOf(paddedReply)).toBe(RCODE_NOERROR);
    expect(ancountOf(paddedReply!)).toBe(2);
    // Shorter than a header, empty, and a response (QR set): dropped, never answered.
    const { sock, replies } = await client();
    for (const junk of [Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.from([0xab, 0xcd, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0])]) sock.send(junk, dns.udpPort, "127.0.0.1");
    // A truncated query (header and half a name) and random bytes shaped as a query: FORMERR.
    const truncated = buildQuery("app.apps.internal", { id: 9 }).subarray(0, 18);
    sock.send(truncated, dns.udpPort, "127.0.0.1");
    const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    garbage.writeUInt16BE(10, 0);
    garbage[2] = 0;
    sock.send(garbage, dns.udpPort, "127.0.0.1");
    sock.send(buildQuery("app.apps.internal", { id: 11 }), dns.udpPort, "127.0.0.1");
    await eventually(() => expect([...replies.keys()].sort((a, b) => a - b)).toEqual([9, 10, 11]));
    expect(rcodeOf(replies.get(9)!)).toBe(RCODE_FORMERR);
    expect(rcodeOf(replies.get(10)!)).toBe(RCODE_FORMERR);
    expect(ancountOf(replies.get(11)!)).toBe(2);
    await eventually(() => expect(dns.stats.dropped).toBe(3));
    expect(dns.stats.internalErrors).toBe(0);
  });

  it("sends answers larger than its shared output buffer (a batch of 48 KB answers)", async () => {
    const dns = await start({ ednsUdpSize: 65000 });
    const instances = Array.from({ length: 3000 }, (_, index) => ({ instanceGuid: `g-${index}`, index, ip: `10.${1 + (index >> 8)}.${index & 255}.7` }));
    dns.registry.apply({ revision: 1, snapshot: true, routes: [{ host: "big.apps.internal", instances }], removedHosts: [] });
    const { sock, replies } = await client();
    for (let id = 0; id < 12; id++) sock.send(buildQuery("big.apps.internal", { id, ednsUdpSize: 65000 }), dns.udpPort, "127.0.0.1");
    await eventually(
      () => {
        for (let id = 0; id < 12; id++) if (!replies.has(id)) sock.send(buildQuery("big.apps.internal", { id, ednsUdpSize: 65000 }), dns.udpPort, "127.0.0.1");
        expect(replies.size).toBe(12);
      },
      { timeoutMs: 10_000, intervalMs: 200 },
    );
    for (const reply of replies.values()) {
      expect(ancountOf(reply)).toBe(3000);
      expect(reply[2]! & 0x02).toBe(0); // TC clear: it all fit
    }
  });

  it("answers forwarded names later, to the right sender, while the batch's memory is reused", async () => {
    // The upstream answers each query after a delay, so the queries' slots are overwritten by then.
    const upstream = createSocket("udp4");
    sockets.push(upstream);
    upstream.on("message", (msg, peer) => {
      const reply = Buffer.from(msg);
      reply[2] = reply[2]! | 0x80;
      reply[3] = 0x80;
      setTimeout(() => upstream.send(reply, peer.port, peer.address), 50);
    });
    await new Promise<void>((resolve) => upstream.bind(0, "127.0.0.1", resolve));
    const dns = await start({ upstreams: [{ host: "127.0.0.1", port: upstream.address().port }] });
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("app.apps.internal", 1)], removedHosts: [] });
    const clients = await Promise.all([client(), client()]);
    for (let id = 0; id < 40; id++) {
      const name = id % 2 ? `host${id}.example.test` : "app.apps.internal";
      clients[id % 2]!.sock.send(buildQuery(name, { id }), dns.udpPort, "127.0.0.1");
    }
    await eventually(() => expect(clients[0].replies.size + clients[1].replies.size).toBe(40), { timeoutMs: 10_000 });
    for (let id = 1; id < 40; id += 2) {
      const reply = clients[1].replies.get(id)!;
      expect(rcodeOf(reply)).toBe(RCODE_NOERROR);
      expect(reply.subarray(12).toString("latin1")).toContain(`host${id}`);
    }
    expect(dns.stats.forwarded).toBe(20);
  });

  it("falls back to node:dgram, saying so once, when the addon cannot be loaded", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const stats = new DnsStats();
    const registry = new DnsRegistry({ ttlSeconds: 0 });
    registry.apply({ revision: 1, snapshot: true, routes: [route("app.apps.internal", 1)], removedHosts: [] });
    const forwarder = new Forwarder({ upstreams: [], attemptTimeoutMs: 100, maxPending: 10, stats });
    const handler = new QueryHandler({ registry, forwarder, domains: ["apps.internal"], serverUdpSize: 4096, stats });
    const addonPath = "/nonexistent/weft-dns-udp.node";
    const first = await startUdpListener({ host: "127.0.0.1", port: 0, handler, io: "native", addonPath, logger });
    const second = await startUdpListener({ host: "127.0.0.1", port: 0, handler, io: "native", addonPath, logger });
    try {
      expect([first.io, second.io]).toEqual(["dgram", "dgram"]);
      const reply = await udpExchange(first.port, buildQuery("app.apps.internal"));
      expect(reply && ancountOf(reply)).toBe(1);
      expect(lines.filter((l) => l.includes("udp-native-unavailable"))).toHaveLength(1);
    } finally {
      await first.close();
      await second.close();
      forwarder.close();
    }
  });

  it("reports a taken port as EADDRINUSE, as dgram does", async () => {
    const dns = await start();
    await expect(startTestDns({ udpIo: "native", listen: { host: "127.0.0.1", port: dns.udpPort } })).rejects.toThrow(/EADDRINUSE|address already in use/i);
  });
});
