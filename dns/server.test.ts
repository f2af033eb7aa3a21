// CF service-discovery semantics over real packets (reference cf-networking 6.2 item 5), with dig
// and Node's resolver (c-ares) as clients against a server on 127.0.0.1 ephemeral ports.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import type { RunningDns } from "./main.js";
import { dig } from "./test-support/dig.js";
import { nodeResolver, route, startTestDns } from "./test-support/start-dns.js";

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

describe("weft dns: cold start", () => {
  let dns: RunningDns;
  beforeAll(async () => {
    dns = await startTestDns();
  });
  afterAll(() => dns.stop());

  it("answers internal names with SERVFAIL before the first snapshot, then from it", async () => {
    const before = await dig(dns.udpPort, ["backend.apps.internal"]);
    expect(before.status).toBe("SERVFAIL");
    expect(await errorCode(nodeResolver(dns.udpPort).resolve4("backend.apps.internal"))).toBe("ESERVFAIL");
    const health = await fetch(`http://127.0.0.1:${dns.opsPort}/health`);
    expect(health.status).toBe(503);

    dns.registry.apply({ revision: 1, snapshot: true, routes: [route("backend.apps.internal", 2)], removedHosts: [] });
    const after = await dig(dns.udpPort, ["backend.apps.internal"]);
    expect(after.status).toBe("NOERROR");
    expect(after.addresses).toHaveLength(2);
    expect((await fetch(`http://127.0.0.1:${dns.opsPort}/health`)).status).toBe(200);
  });
});

describe("weft dns: answers from the registry", () => {
  let dns: RunningDns;
  beforeAll(async () => {
    dns = await startTestDns();
    dns.registry.apply({
      revision: 7,
      snapshot: true,
      routes: [route("backend.apps.internal", 3), { host: "stopped.apps.internal", instances: [] }, route("one.apps.internal", 1, 2)],
      removedHosts: [],
    });
  });
  afterAll(() => dns.stop());

  it("known name: NOERROR, an A record per instance, TTL 0, AA set", async () => {
    const r = await dig(dns.udpPort, ["backend.apps.internal", "A"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).toContain("aa");
    expect([...r.addresses].sort()).toEqual(["10.255.1.2", "10.255.1.3", "10.255.1.4"]);
    expect(r.answers.every((a) => a.ttl === 0)).toBe(true);
    const viaNode = await nodeResolver(dns.udpPort).resolve4("backend.apps.internal", { ttl: true });
    expect(viaNode.map((a) => a.address).sort()).toEqual(["10.255.1.2", "10.255.1.3", "10.255.1.4"]);
    expect(viaNode.every((a) => a.ttl === 0)).toBe(true);
  });

  it("unknown name: NOERROR with no answers, not NXDOMAIN", async () => {
    const r = await dig(dns.udpPort, ["nosuchapp.apps.internal"]);
    expect(r.status).toBe("NOERROR");
    expect(r.flags).toContain("aa");
    expect(r.answers).toHaveLength(0);
    expect(await errorCode(nodeResolver(dns.udpPort).resolve4("nosuchapp.apps.internal"))).toBe("ENODATA");
  });

  it("stopped app (a route with no instances): NOERROR with no answers", async () => {
    const r = await dig(dns.udpPort, ["stopped.apps.internal"]);
    expect(r.status).toBe("NOERROR");
    expect(r.answers).toHaveLength(0);
    expect(await errorCode(nodeResolver(dns.udpPort).resolve4("stopped.apps.internal"))).toBe("ENODATA");
  });

  it("AAAA, SRV and other types for known and unknown names: NOERROR, empty", async () => {
    for (const [name, type] of [["backend.apps.internal", "AAAA"], ["backend.apps.internal", "SRV"], ["backend.apps.internal", "TXT"], ["backend.apps.internal", "ANY"], ["nosuch.apps.internal", "AAAA"], ["_http._tcp.backend.apps.internal", "SRV"]] as const) {
      const r = await dig(dns.udpPort, [name, type]);
      expect({ name, type, status: r.status, answers: r.answers.length }).toEqual({ name, type, status: "NOERROR", answers: 0 });
      expect(r.flags).toContain("aa");
    }
    expect(await errorCode(nodeResolver(dns.udpPort).resolve6("backend.apps.internal"))).toBe("ENODATA");
    expect(await errorCode(nodeResolver(dns.udpPort).resolveSrv("backend.apps.internal"))).toBe("ENODATA");
  });

  it("upper-case and mixed-case names are answered, the name echoed as asked", async () => {
    const r = await dig(dns.udpPort, ["BACKEND.Apps.INTERNAL"]);
    expect(r.status).toBe("NOERROR");
    expect(r.addresses).toHaveLength(3);
    expect(r.answers[0]?.name).toBe("BACKEND.Apps.INTERNAL.");
    expect(await nodeResolver(dns.udpPort).resolve4("Backend.Apps.Internal")).toHaveLength(3);
  });

  it("index names give that one instance; a missing index gives NOERROR, empty", async () => {
    for (const i of [0, 1, 2]) {
      const r = await dig(dns.udpPort, [`${i}.backend.apps.internal`]);
      expect(r.addresses).toEqual([`10.255.1.${i + 2}`]);
      expect(r.flags).toContain("aa");
    }
    expect(await nodeResolver(dns.udpPort).resolve4("1.Backend.apps.internal")).toEqual(["10.255.1.3"]);
    const missing = await dig(dns.udpPort, ["3.backend.apps.internal"]);
    expect(missing.status).toBe("NOERROR");
    expect(missing.answers).toHaveLength(0);
  });

  it("shuffles the instances per query", async () => {
    const firsts = new Set<string>();
    const resolver = nodeResolver(dns.udpPort);
    for (let i = 0; i < 40 && firsts.size < 3; i++) firsts.add((await resolver.resolve4("backend.apps.internal"))[0] ?? "");
    expect(firsts.size).toBe(3);
  });

  it("scales an app 1 -> 3 -> 1 instances, each change visible within a second", async () => {
    const resolver = nodeResolver(dns.udpPort);
    const expectAddresses = async (n: number) => {
      const started = Date.now();
      await eventually(async () => expect((await resolver.resolve4("scaling.apps.internal")).length).toBe(n), { timeoutMs: 1000, intervalMs: 5 });
      return Date.now() - started;
    };
    dns.registry.apply({ revision: 8, snapshot: false, routes: [route("scaling.apps.internal", 1, 3)], removedHosts: [] });
    await expectAddresses(1);
    dns.registry.apply({ revision: 9, snapshot: false, routes: [route("scaling.apps.internal", 3, 3)], removedHosts: [] });
    expect(await expectAddresses(3)).toBeLessThan(1000);
    expect((await dig(dns.udpPort, ["2.scaling.apps.internal"])).addresses).toEqual(["10.255.3.4"]);
    dns.registry.apply({ revision: 10, snapshot: false, routes: [route("scaling.apps.internal", 1, 3)], removedHosts: [] });
    expect(await expectAddresses(1)).toBeLessThan(1000);
    const gone = await dig(dns.udpPort, ["2.scaling.apps.internal"]);
    expect(gone.status).toBe("NOERROR");
    expect(gone.answers).toHaveLength(0);
    dns.registry.apply({ revision: 11, snapshot: false, routes: [], removedHosts: ["scaling.apps.internal"] });
    expect(await errorCode(resolver.resolve4("scaling.apps.internal"))).toBe("ENODATA");
  });

  it("exports metrics: queries by rcode, registry revision and routes", async () => {
    await dig(dns.udpPort, ["backend.apps.internal"]);
    const text = await (await fetch(`http://127.0.0.1:${dns.opsPort}/metrics`)).text();
    expect(text).toMatch(/weft_dns_queries_total\{transport="udp",rcode="NOERROR",component="dns"\} [1-9]/);
    expect(text).toMatch(/weft_dns_registry_revision\{component="dns"\} (7|1[01])/);
    expect(text).toMatch(/weft_dns_registry_routes\{component="dns"\} [34]/);
    expect(text).toContain("weft_dns_upstream_failures_total");
    expect(dns.stats.internalErrors).toBe(0);
  });
});

describe("weft dns: configuration", () => {
  it("serves the configured TTL and every configured internal domain", async () => {
    const dns = await startTestDns({ ttlSeconds: 30, domains: ["apps.internal", "Cell.Local"] });
    try {
      dns.registry.apply({ revision: 1, snapshot: true, routes: [route("db.cell.local", 1), route("web.apps.internal", 1, 2)], removedHosts: [] });
      const r = await dig(dns.udpPort, ["db.cell.local"]);
      expect(r.addresses).toEqual(["10.255.1.2"]);
      expect(r.answers[0]?.ttl).toBe(30);
      expect((await dig(dns.udpPort, ["web.apps.internal"])).answers[0]?.ttl).toBe(30);
      expect((await dig(dns.udpPort, ["nothing.cell.local"])).status).toBe("NOERROR");
    } finally {
      await dns.stop();
    }
  });
});
