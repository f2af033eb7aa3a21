// Conformance: CF's policy validation (reference 2.5). Every condition gives 400 with CF's exact
// message, checks run per policy in CF's order so the first failure wins, unmarshal errors carry
// CF's prefix, and nothing is stored by a rejected request. Runs on both stores.
import { describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import { V0, V1, errorOf, list, pol, polV0, uid, useControl } from "../../test/support/policy-api.js";

const VALIDATE = "mapper: validate policies: ";
const UNMARSHAL = "mapper: unmarshal json: ";

type Row = [name: string, body: unknown, message: string];

function withDest(dest: Record<string, unknown>, source: Record<string, unknown> = { id: "src" }): unknown {
  return { policies: [{ source, destination: { id: "dst", protocol: "tcp", ...dest } }] };
}

const ports = (start: unknown, end: unknown) => ({ ports: { start, end } });

// One row per condition of the reference table, in the table's order.
const V1_ROWS: Row[] = [
  ["policies missing", {}, "missing policies"],
  ["policies empty", { policies: [] }, "missing policies"],
  ["policies null", { policies: null }, "missing policies"],
  ["body null", null, "missing policies"],
  ["source id empty", { policies: [{ source: { id: "" }, destination: { id: "d", protocol: "tcp", ...ports(1, 1) } }] }, "missing source id"],
  ["source missing", { policies: [{ destination: { id: "d", protocol: "tcp", ...ports(1, 1) } }] }, "missing source id"],
  ["destination id empty", withDest({ id: "", ...ports(1, 1) }), "missing destination id"],
  ["destination missing", { policies: [{ source: { id: "s" } }] }, "missing destination id"],
  ["protocol icmp", withDest({ protocol: "icmp", ...ports(1, 1) }), "invalid destination protocol, specify either udp or tcp"],
  ["protocol all", withDest({ protocol: "all", ...ports(1, 1) }), "invalid destination protocol, specify either udp or tcp"],
  ["protocol TCP (case-sensitive)", withDest({ protocol: "TCP", ...ports(1, 1) }), "invalid destination protocol, specify either udp or tcp"],
  ["protocol missing", withDest({ protocol: undefined, ...ports(1, 1) }), "invalid destination protocol, specify either udp or tcp"],
  ["start > end", withDest(ports(9000, 8000)), "invalid port range 9000-8000, start must be less than or equal to end"],
  ["end missing", withDest({ ports: { start: 80 } }), "invalid port range 80-0, start must be less than or equal to end"],
  ["start < 0", withDest(ports(-1, 80)), "invalid start port -1, must be in range 1-65535"],
  ["start 0", withDest(ports(0, 80)), "missing start port"],
  ["ports object missing", withDest({}), "missing start port"],
  ["end > 65535", withDest(ports(1, 65536)), "invalid end port 65536, must be in range 1-65535"],
  ["source tag", withDest(ports(1, 1), { id: "s", tag: "0001" }), "tags may not be specified"],
  ["destination tag", withDest({ tag: "0002", ...ports(1, 1) }), "tags may not be specified"],
];

// Pairs of conditions in one policy: the one earlier in CF's order wins.
const ORDER_ROWS: Row[] = [
  ["source id before destination id", { policies: [{ source: { id: "" }, destination: { id: "", protocol: "x" } }] }, "missing source id"],
  ["destination id before protocol", withDest({ id: "", protocol: "icmp" }), "missing destination id"],
  ["protocol before port range", withDest({ protocol: "icmp", ...ports(9, 1) }), "invalid destination protocol, specify either udp or tcp"],
  ["port range before negative start", withDest(ports(-1, -5)), "invalid port range -1--5, start must be less than or equal to end"],
  ["port range before missing start", withDest(ports(0, -1)), "invalid port range 0--1, start must be less than or equal to end"],
  ["missing start before end too big", withDest(ports(0, 70000)), "missing start port"],
  ["end too big before tags", withDest({ tag: "0001", ...ports(1, 70000) }), "invalid end port 70000, must be in range 1-65535"],
  ["missing source before tags", { policies: [{ source: { id: "", tag: "0001" }, destination: { id: "d", protocol: "tcp", ...ports(1, 1) } }] }, "missing source id"],
  [
    "first policy's failure wins over a later policy's earlier-ordered one",
    { policies: [pol("a", "b", "tcp", 1, 70000), { source: { id: "" }, destination: { id: "d" } }] },
    "invalid end port 70000, must be in range 1-65535",
  ],
  ["a later invalid policy fails the request", { policies: [pol("a", "b"), pol("a", "b", "udp", 5, 4)] }, "invalid port range 5-4, start must be less than or equal to end"],
];

// Not in CF's validator: ids must fit the store, checked right after the missing-id checks.
const ID_RULE = "must be 1-255 characters without control characters";
const WEFT_ROWS: Row[] = [
  ["source id too long", { policies: [pol("s".repeat(256), "d")] }, `invalid source id, ${ID_RULE}`],
  ["destination id with a control character", { policies: [pol("s", "d\n")] }, `invalid destination id, ${ID_RULE}`],
  ["missing destination id before a bad source id", { policies: [pol("s".repeat(256), "")] }, "missing destination id"],
  ["bad id before protocol", { policies: [pol("s\u0000", "d", "icmp")] }, `invalid source id, ${ID_RULE}`],
];

const V0_ROWS: Row[] = [
  ["policies missing", {}, "missing policies"],
  ["source id empty", { policies: [polV0("", "d")] }, "missing source id"],
  ["destination id empty", { policies: [polV0("s", "")] }, "missing destination id"],
  ["protocol icmp", { policies: [polV0("s", "d", "icmp")] }, "invalid destination protocol, specify either udp or tcp"],
  ["protocol before port", { policies: [polV0("s", "d", "all", 0)] }, "invalid destination protocol, specify either udp or tcp"],
  ["port 0", { policies: [polV0("s", "d", "tcp", 0)] }, "missing port"],
  ["port missing (ports object ignored)", { policies: [{ source: { id: "s" }, destination: { id: "d", protocol: "tcp", ports: { start: 1, end: 1 } } }] }, "missing port"],
  ["port < 0", { policies: [polV0("s", "d", "udp", -7)] }, "invalid port -7, must be in range 1-65535"],
  // CF's v0 validator has no upper bound; Weft's store does, so Weft rejects with the same message.
  ["port > 65535 (Weft keeps the store's bound)", { policies: [polV0("s", "d", "udp", 65536)] }, "invalid port 65536, must be in range 1-65535"],
  ["tags", { policies: [{ source: { id: "s", tag: "1" }, destination: { id: "d", protocol: "tcp", port: 80 } }] }, "tags may not be specified"],
];

const UNMARSHAL_ROWS: [name: string, raw: string][] = [
  ["not JSON", "{"],
  ["empty body", ""],
  ["policies not an array", '{"policies":"x"}'],
  ["policy not an object", '{"policies":[7]}'],
  ["id not a string", '{"policies":[{"source":{"id":5},"destination":{"id":"d","protocol":"tcp","ports":{"start":1,"end":1}}}]}'],
  // v1 reads ports and v0 reads port; these rows break both.
  ["port not a number", '{"policies":[{"source":{"id":"s"},"destination":{"id":"d","protocol":"tcp","port":"80","ports":{"start":"80","end":80}}}]}'],
  ["port not an integer", '{"policies":[{"source":{"id":"s"},"destination":{"id":"d","protocol":"tcp","port":1.5,"ports":{"start":1.5,"end":80}}}]}'],
  // The decode of every policy happens before validation, as in Go: a later type error wins.
  ["type error after an invalid policy", '{"policies":[{"source":{"id":""}},{"source":{"id":[]}}]}'],
];

describe.each(STORE_KINDS)("policy validation (%s store)", (kind) => {
  const control = useControl(kind);

  async function expectRejected(base: string, init: { body?: unknown; raw?: string }, message: string): Promise<void> {
    for (const path of ["/policies", "/policies/delete"]) {
      const res = await control().request("POST", `${base}${path}`, init.raw !== undefined ? { raw: init.raw } : { body: init.body });
      expect(res.status, `${path}: ${res.text}`).toBe(400);
      expect(res.json, path).toEqual({ error: message });
    }
  }

  it.each(V1_ROWS)("v1: %s", async (_name, body, message) => {
    await expectRejected(V1, { body }, VALIDATE + message);
  });

  it.each(ORDER_ROWS)("v1 order: %s", async (_name, body, message) => {
    await expectRejected(V1, { body }, VALIDATE + message);
  });

  it.each(WEFT_ROWS)("v1 (Weft id rule): %s", async (_name, body, message) => {
    await expectRejected(V1, { body }, VALIDATE + message);
  });

  it.each(V0_ROWS)("v0: %s", async (_name, body, message) => {
    await expectRejected(V0, { body }, VALIDATE + message);
  });

  it.each(UNMARSHAL_ROWS)("unmarshal error: %s", async (_name, raw) => {
    for (const base of [V1, V0]) {
      const res = await control().request("POST", `${base}/policies`, { raw });
      expect(res.status, res.text).toBe(400);
      expect(errorOf(res)).toMatch(new RegExp(`^${UNMARSHAL.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}.+`));
    }
  });

  it("accepts the boundaries 1-65535, tcp and udp, and unknown fields", async () => {
    const a = uid();
    const body = {
      policies: [pol(a, "d", "tcp", 1, 65535), pol(a, "d", "udp", 65535, 65535)],
      extra: true,
    };
    const res = await control().request("POST", `${V1}/policies`, { body });
    expect(res.status, res.text).toBe(200);
    expect((await list(control(), `?id=${a}`)).total_policies).toBe(2);
  });

  it("stores nothing from a request with one invalid policy", async () => {
    const a = uid();
    const res = await control().request("POST", `${V1}/policies`, { body: { policies: [pol(a, "d"), pol(a, "d", "icmp")] } });
    expect(res.status).toBe(400);
    expect((await list(control(), `?id=${a}`)).total_policies).toBe(0);
  });

  it("validates before checking a non-admin's access to the apps", async () => {
    const tok = await control().token({ scopes: ["network.write"], spaces: ["space-x"] });
    const res = await control().request("POST", `${V1}/policies`, { body: { policies: [pol(uid(), uid(), "icmp")] }, token: tok });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: `${VALIDATE}invalid destination protocol, specify either udp or tcp` });
  });
});
