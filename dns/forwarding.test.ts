// Names outside the internal domains go to the upstream resolvers, here a fake one on loopback
// (test-support/fake-upstream.ts, built on dns2): answers and error rcodes pass through unchanged,
// a silent upstream becomes SERVFAIL within the timeout, and truncated answers are re-fetched over TCP.
import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningDns } from "./main.js";
import { dig } from "./test-support/dig.js";
import { BIG_COUNT, startFakeUpstream, type FakeUpstream } from "./test-support/fake-upstream.js";
import { buildQuery, rcodeOf, udpExchange } from "./test-support/raw-client.js";
import { nodeResolver, route, startTestDns } from "./test-support/start-dns.js";

const TIMEOUT_MS = 400;

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** A UDP socket on loopback that reads queries and never answers. */
async function blackHole(): Promise<{ port: number; received: () => number; close: () => void }> {
  const sock: Socket = createSocket("udp4");
  let received = 0;
  sock.on("message", () => received++);
  await new Promise<void>((resolve) => sock.bind(0, "127.0.0.1", resolve));
  return { port: sock.address().port, received: () => received, close: () => sock.close() };
}

describe("weft dns: forwarding", () => {
  let upstream: FakeUpstream;
  let dns: RunningDns;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    dns = await startTestDns({ upstreams: [{ host: "127.0.0.1", port: upstream.port }], upstreamTimeoutMs: TIMEOUT_MS });
    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("backend.apps.internal", 1)], removedHosts: [] });
  });
  afterAll(async () => {
    await dns.stop();
    await upstream.close();
  });

  it("passes a normal answer through unchanged (upstream TTL, no AA), name case intact", async () => {
    const r = await dig(dns.udpPort, ["OK.Example.Test"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).not.toContain("aa");
    expect(r.answers).toEqual([{ name: "OK.Example.Test.", ttl: 60, type: "A", data: "192.0.2.10" }]);
    expect(upstream.udpNames).toContain("OK.Example.Test");
    expect(await nodeResolver(dns.udpPort).resolve4("ok.example.test")).toEqual(["192.0.2.10"]);
  });

  it("passes NXDOMAIN, SERVFAIL and REFUSED through unchanged", async () => {
    expect((await dig(dns.udpPort, ["nx.example.test"])).status).toBe("NXDOMAIN");
    expect((await dig(dns.udpPort, ["fail.example.test"])).status).toBe("SERVFAIL");
    expect((await dig(dns.udpPort, ["refused.example.test"])).status).toBe("REFUSED");
    expect(await errorCode(nodeResolver(dns.udpPort).resolve4("nx.example.test"))).toBe("ENOTFOUND");
    expect(await errorCode(nodeResolver(dns.udpPort).resolve4("fail.example.test"))).toBe("ESERVFAIL");
  });

  it("answers SERVFAIL within the timeout when the upstream never answers", async () => {
    expect((await dig(dns.udpPort, ["silent.example.test"])).status).toBe("SERVFAIL");
    // Timed without a process start in the way.
    const started = Date.now();
    const reply = await udpExchange(dns.udpPort, buildQuery("silent.example.test"), 5000);
    const elapsed = Date.now() - started;
    expect(reply && rcodeOf(reply)).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    expect(dns.stats.upstreamTimeouts).toBeGreaterThanOrEqual(2);
  });

  it("re-fetches a truncated upstream answer over TCP", async () => {
    const tcpBefore = upstream.tcpNames.length;
    // The fake always truncates tc.example.test over UDP; the client's 4096 bytes take it whole.
    const r = await dig(dns.udpPort, ["tc.example.test", "+bufsize=4096"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).not.toContain("tc");
    expect(r.retriedOverTcp).toBe(false);
    expect(r.addresses).toHaveLength(BIG_COUNT);
    expect(upstream.tcpNames.length).toBeGreaterThan(tcpBefore);
    expect(dns.stats.upstreamTcpRetries).toBeGreaterThanOrEqual(1);
  });

  it("truncates a forwarded answer to the client's UDP limit; the client's TCP retry gets it all", async () => {
    const r = await dig(dns.udpPort, ["big.example.test", "+noedns"]);
    expect(r.retriedOverTcp).toBe(true);
    expect(r.status).toBe("NOERROR");
    expect(r.addresses).toHaveLength(BIG_COUNT);
    const viaTcp = await dig(dns.tcpPort, ["big.example.test", "+tcp"]);
    expect(viaTcp.addresses).toHaveLength(BIG_COUNT);
  });

  it("never forwards internal names", async () => {
    await dig(dns.udpPort, ["nosuch.apps.internal"]);
    await dig(dns.udpPort, ["backend.apps.internal", "AAAA"]);
    expect([...upstream.udpNames, ...upstream.tcpNames].filter((n) => n.toLowerCase().endsWith("apps.internal"))).toEqual([]);
  });

  it("counts forwarded queries and upstream failures in the metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${dns.opsPort}/metrics`)).text();
    expect(text).toMatch(/weft_dns_forwarded_total\{component="dns"\} [1-9]/);
    expect(text).toMatch(/weft_dns_upstream_failures_total\{reason="timeout",component="dns"\} [1-9]/);
    expect(text).toMatch(/weft_dns_queries_total\{transport="udp",rcode="NXDOMAIN",component="dns"\} [1-9]/);
  });
});

describe("weft dns: several upstreams", () => {
  it("moves on to the next upstream when one is silent or refuses, and SERVFAILs when all fail", async () => {
    const upstream = await startFakeUpstream();
    const hole = await blackHole();
    const closed = await blackHole();
    closed.close(); // nothing listens there now: ICMP port unreachable, a quick error
    const dns = await startTestDns({
      upstreams: [{ host: "127.0.0.1", port: closed.port }, { host: "127.0.0.1", port: hole.port }, { host: "127.0.0.1", port: upstream.port }],
      upstreamTimeoutMs: 300,
    });
    try {
      const r = await dig(dns.udpPort, ["ok.example.test", "+time=3"]);
      expect(r.addresses).toEqual(["192.0.2.10"]);
      expect(hole.received()).toBe(1);
      expect(dns.stats.upstreamErrors + dns.stats.upstreamTimeouts).toBe(2);
      const allSilent = await dig(dns.udpPort, ["silent.example.test", "+time=3"]);
      expect(allSilent.status).toBe("SERVFAIL");
    } finally {
      await dns.stop();
      hole.close();
      await upstream.close();
    }
  });

  it("answers SERVFAIL for other names when no upstream is configured", async () => {
    const dns = await startTestDns({ upstreams: [] });
    try {
      expect((await dig(dns.udpPort, ["example.test"])).status).toBe("SERVFAIL");
    } finally {
      await dns.stop();
    }
  });
});
