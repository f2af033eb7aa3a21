import { describe, expect, it } from "vitest";
import { encodeAnswerSet } from "./answer-set.js";
import { NameTable } from "./name-table.js";
import { DnsRegistry } from "./registry.js";
import { route } from "./test-support/start-dns.js";
import { hashWire, nameToWire } from "./wire.js";

const sorted = (xs: string[]) => [...xs].sort();

describe("DnsRegistry", () => {
  it("is not ready and ignores deltas until the first snapshot", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    expect(r.ready).toBe(false);
    expect(r.apply({ revision: 5, snapshot: false, routes: [route("a.apps.internal", 1)], removedHosts: [] })).toEqual({ kind: "ignored", reason: "delta-before-snapshot" });
    expect(r.apply({ revision: 6, snapshot: true, routes: [], removedHosts: [] }).kind).toBe("applied");
    expect(r.ready).toBe(true);
    expect(r.revision).toBe(6);
  });

  it("derives host and index names, case-insensitively", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    r.apply({ revision: 1, snapshot: true, routes: [route("Backend.Apps.Internal.", 3)], removedHosts: [] });
    expect(sorted(r.addresses("backend.apps.internal"))).toEqual(["10.255.1.2", "10.255.1.3", "10.255.1.4"]);
    expect(r.addresses("BACKEND.apps.internal")).toHaveLength(3);
    expect(r.addresses("1.backend.apps.internal")).toEqual(["10.255.1.3"]);
    expect(r.addresses("3.backend.apps.internal")).toEqual([]);
    expect(r.addresses("01.backend.apps.internal")).toEqual([]);
    expect(r.routeCount).toBe(1);
    expect(r.nameCount).toBe(4);
  });

  it("applies deltas: a route replaces its host's instances, removedHosts are deleted", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    r.apply({ revision: 1, snapshot: true, routes: [route("a.apps.internal", 3), route("b.apps.internal", 1, 2)], removedHosts: [] });
    r.apply({ revision: 2, snapshot: false, routes: [route("a.apps.internal", 1)], removedHosts: ["B.apps.internal"] });
    expect(r.addresses("a.apps.internal")).toEqual(["10.255.1.2"]);
    expect(r.addresses("2.a.apps.internal")).toEqual([]);
    expect(r.addresses("b.apps.internal")).toEqual([]);
    expect(r.addresses("0.b.apps.internal")).toEqual([]);
    expect(r.routeCount).toBe(1);
    // A stopped app: the route stays with no instances.
    r.apply({ revision: 3, snapshot: false, routes: [{ host: "a.apps.internal", instances: [] }], removedHosts: [] });
    expect(r.addresses("a.apps.internal")).toEqual([]);
    expect(r.routeCount).toBe(1);
  });

  it("ignores stale deltas but always applies snapshots", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    r.apply({ revision: 10, snapshot: true, routes: [route("a.apps.internal", 1)], removedHosts: [] });
    expect(r.apply({ revision: 10, snapshot: false, routes: [], removedHosts: ["a.apps.internal"] })).toEqual({ kind: "ignored", reason: "stale-revision" });
    expect(r.addresses("a.apps.internal")).toHaveLength(1);
    r.apply({ revision: 4, snapshot: true, routes: [route("c.apps.internal", 2)], removedHosts: [] });
    expect(r.addresses("a.apps.internal")).toEqual([]);
    expect(r.addresses("c.apps.internal")).toHaveLength(2);
    expect(r.revision).toBe(4);
  });

  it("gives a route literally named like an index name precedence over the derived name", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    r.apply({ revision: 1, snapshot: true, routes: [route("app.apps.internal", 2), route("1.app.apps.internal", 1, 9)], removedHosts: [] });
    expect(r.addresses("1.app.apps.internal")).toEqual(["10.255.9.2"]);
    r.apply({ revision: 2, snapshot: false, routes: [], removedHosts: ["1.app.apps.internal"] });
    expect(r.addresses("1.app.apps.internal")).toEqual(["10.255.1.3"]);
  });

  it("returns every instance of an index during an evacuation, and de-duplicates addresses", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    r.apply({
      revision: 1,
      snapshot: true,
      routes: [{ host: "e.apps.internal", instances: [{ instanceGuid: "old", index: 0, ip: "10.255.0.2" }, { instanceGuid: "new", index: 0, ip: "10.255.0.9" }, { instanceGuid: "dup", index: 1, ip: "10.255.0.9" }] }],
      removedHosts: [],
    });
    expect(sorted(r.addresses("0.e.apps.internal"))).toEqual(["10.255.0.2", "10.255.0.9"]);
    expect(sorted(r.addresses("e.apps.internal"))).toEqual(["10.255.0.2", "10.255.0.9"]);
  });

  it("skips invalid hosts and instances and applies the rest", () => {
    const r = new DnsRegistry({ ttlSeconds: 0 });
    const result = r.apply({
      revision: 1,
      snapshot: true,
      routes: [
        { host: "bad host.apps.internal", instances: [] },
        { host: "ok.apps.internal", instances: [{ instanceGuid: "g", index: 0, ip: "10.255.0.2" }, { instanceGuid: "v6", index: 1, ip: "fd00::1" }, { instanceGuid: "neg", index: -1, ip: "10.255.0.3" }] },
      ],
      removedHosts: [],
    });
    expect(result).toMatchObject({ kind: "applied", skipped: 3 });
    expect(r.addresses("ok.apps.internal")).toEqual(["10.255.0.2"]);
  });
});

describe("NameTable", () => {
  it("finds every name from query bytes in any case, after sets, overwrites and deletes", () => {
    const table = new NameTable();
    const names = Array.from({ length: 20_000 }, (_, i) => `n${i}.app${i % 97}.apps.internal`);
    names.forEach((n, i) => table.set(nameToWire(n), encodeAnswerSet([i], 0)));
    table.set(nameToWire(names[5]!), encodeAnswerSet([7, 8], 0));
    for (let i = 0; i < names.length; i += 2) table.delete(nameToWire(names[i]!));
    expect(table.size).toBe(10_000);
    names.forEach((n, i) => {
      const wire = nameToWire(n.toUpperCase());
      const at = table.lookup(wire, 0, wire.length, hashWire(wire, 0, wire.length));
      if (i % 2 === 0) return expect(at, n).toBe(-1);
      const count = table.arena.readUInt16BE(at);
      expect(count, n).toBe(i === 5 ? 2 : 1);
      expect(table.arena.readUInt32BE(at + 2 + 12), n).toBe(i === 5 ? 7 : i);
    });
  });
});
