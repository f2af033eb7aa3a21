// App security groups through the REST API on both stores: create, read, list, update, delete,
// global defaults and space bindings (running and staging), each change committing a revision;
// and bad ASG JSON of every kind gets a 400 whose message names the field, with nothing applied.
import { describe, expect, it } from "vitest";
import { STORE_KINDS } from "../../test/support/db.js";
import { revisionOf, uid, useControl } from "../../test/support/policy-api.js";
import { Prng } from "../../test/support/prng.js";
import { parseAsgRules } from "../../common/asg-rules.js";
import type { HttpResult, TestControl } from "../../test/support/control.js";

const BASE = "/weft/v1/security-groups";

interface GroupJson {
  guid: string;
  name: string;
  rules: Record<string, unknown>[];
  globally_enabled: { running: boolean; staging: boolean };
  relationships: { running_spaces: { data: { guid: string }[] }; staging_spaces: { data: { guid: string }[] } };
}

const RULES = [
  { protocol: "tcp", destination: "10.0.0.0/8", ports: "80,443", log: true, description: "web" },
  { protocol: "udp", destination: "10.1.0.1-10.1.0.9,192.168.1.1", ports: "8000-9000" },
  { protocol: "icmp", destination: "0.0.0.0/0", type: -1, code: -1 },
  { protocol: "all", destination: "172.16.0.1" },
];

async function listAll(tc: TestControl): Promise<GroupJson[]> {
  const res = await tc.request("GET", BASE);
  expect(res.status, res.text).toBe(200);
  return (res.json as { security_groups: GroupJson[] }).security_groups;
}

const errorOf = (r: HttpResult) => (r.json as { error?: string } | undefined)?.error ?? "";

describe.each(STORE_KINDS)("security groups API (%s store)", (kind) => {
  const control = useControl(kind);

  it("creates, reads, lists, updates, binds and deletes a group, each change a new revision", async () => {
    const name = uid("asg");
    const created = await control().request("POST", BASE, { body: { name, rules: RULES, globally_enabled: { running: true } } });
    expect(created.status, created.text).toBe(201);
    const g = created.json as GroupJson;
    expect(g).toMatchObject({ name, globally_enabled: { running: true, staging: false } });
    expect(g.rules).toEqual([
      { protocol: "tcp", destination: "10.0.0.0/8", ports: "80,443", log: true, description: "web" },
      { protocol: "udp", destination: "10.1.0.1-10.1.0.9,192.168.1.1", ports: "8000-9000" },
      { protocol: "icmp", destination: "0.0.0.0/0", type: -1, code: -1 },
      { protocol: "all", destination: "172.16.0.1" },
    ]);
    const r1 = revisionOf(created)!;
    expect(r1).toBeGreaterThan(0);

    const got = await control().request("GET", `${BASE}/${g.guid}`);
    expect(got.json).toEqual(g);
    expect((await listAll(control())).map((x) => x.guid)).toContain(g.guid);
    const byName = await control().request("GET", `${BASE}?name=${encodeURIComponent(name)}`);
    expect((byName.json as { security_groups: GroupJson[] }).security_groups.map((x) => x.guid)).toEqual([g.guid]);

    const patched = await control().request("PATCH", `${BASE}/${g.guid}`, { body: { rules: [RULES[0]], globally_enabled: { running: false, staging: true } } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toMatchObject({ rules: [RULES[0]], globally_enabled: { running: false, staging: true } });
    const r2 = revisionOf(patched)!;
    expect(r2).toBeGreaterThan(r1);
    const same = await control().request("PATCH", `${BASE}/${g.guid}`, { body: { rules: [RULES[0]] } });
    expect(same.status).toBe(200);
    expect(revisionOf(same), "an unchanged group commits nothing").toBeUndefined();

    const bound = await control().request("POST", `${BASE}/${g.guid}/relationships/running_spaces`, { body: { data: [{ guid: "space-1" }, { guid: "space-2" }] } });
    expect(bound.status, bound.text).toBe(200);
    expect((bound.json as GroupJson).relationships.running_spaces.data).toEqual([{ guid: "space-1" }, { guid: "space-2" }]);
    const r3 = revisionOf(bound)!;
    expect(r3).toBeGreaterThan(r2);
    const staged = await control().request("POST", `${BASE}/${g.guid}/relationships/staging_spaces`, { body: { data: [{ guid: "space-1" }] } });
    expect((staged.json as GroupJson).relationships.staging_spaces.data).toEqual([{ guid: "space-1" }]);
    const unbound = await control().request("DELETE", `${BASE}/${g.guid}/relationships/running_spaces/space-1`);
    expect(unbound.status).toBe(200);
    expect((unbound.json as GroupJson).relationships.running_spaces.data).toEqual([{ guid: "space-2" }]);
    const again = await control().request("DELETE", `${BASE}/${g.guid}/relationships/running_spaces/space-1`);
    expect(revisionOf(again), "unbinding twice commits nothing").toBeUndefined();

    const deleted = await control().request("DELETE", `${BASE}/${g.guid}`);
    expect(deleted.status).toBe(200);
    expect(revisionOf(deleted)).toBeGreaterThan(r3);
    expect((await control().request("GET", `${BASE}/${g.guid}`)).status).toBe(404);
    expect((await control().request("DELETE", `${BASE}/${g.guid}`)).status).toBe(404);
  });

  it("refuses a second group with the same name (409) and changes by non-admins (403)", async () => {
    const name = uid("asg");
    expect((await control().request("POST", BASE, { body: { name, rules: [] } })).status).toBe(201);
    const dup = await control().request("POST", BASE, { body: { name, rules: [] } });
    expect(dup.status).toBe(409);
    expect(errorOf(dup)).toContain(name);
    const writer = await control().token({ scopes: ["network.write"] });
    const res = await control().request("POST", BASE, { body: { name: uid("asg"), rules: [] }, token: writer });
    expect(res.status).toBe(403);
    expect((await control().request("GET", BASE, { token: writer })).status).toBe(200);
  });

  it("answers bad ASG JSON of every kind with a 400 naming the field, and applies nothing", async () => {
    const existing = await control().request("POST", BASE, { body: { name: uid("asg"), rules: [RULES[0]] } });
    const guid = (existing.json as GroupJson).guid;
    const before = await listAll(control());
    const rule = (over: Record<string, unknown>) => ({ name: uid("bad"), rules: [RULES[0], { protocol: "tcp", destination: "10.0.0.1", ports: "80", ...over }] });
    const cases: [string, unknown, string][] = [
      ["not JSON", "{", "invalid JSON body"],
      ["not an object", [], "invalid JSON body"],
      ["no name", { rules: [] }, "missing name"],
      ["name not a string", { name: 5, rules: [] }, "invalid name"],
      ["unknown top-level field", { name: "x", rules: [], colour: "red" }, "invalid colour"],
      ["rules not a list", { name: "x", rules: {} }, "invalid rules"],
      ["rule not an object", { name: "x", rules: [5] }, "invalid rules[0]"],
      ["bad protocol", rule({ protocol: "sctp" }), "invalid rules[1].protocol"],
      ["no protocol", rule({ protocol: undefined }), "invalid rules[1].protocol"],
      ["no destination", rule({ destination: undefined }), "invalid rules[1].destination"],
      ["bad address", rule({ destination: "10.0.0.256" }), "invalid rules[1].destination"],
      ["bad CIDR", rule({ destination: "10.0.0.0/33" }), "invalid rules[1].destination"],
      ["reversed range", rule({ destination: "10.0.0.9-10.0.0.1" }), "invalid rules[1].destination"],
      ["bad list item", rule({ destination: "10.0.0.1,nope" }), "invalid rules[1].destination"],
      ["IPv6", rule({ destination: "::1" }), "invalid rules[1].destination"],
      ["port 0", rule({ ports: "0" }), "invalid rules[1].ports"],
      ["port 65536", rule({ ports: "65536" }), "invalid rules[1].ports"],
      ["reversed ports", rule({ ports: "9000-8000" }), "invalid rules[1].ports"],
      ["ports garbage", rule({ ports: "80;443" }), "invalid rules[1].ports"],
      ["ports a number", rule({ ports: 80 }), "invalid rules[1].ports"],
      ["ports on icmp", rule({ protocol: "icmp", type: 0, code: 0 }), "invalid rules[1].ports"],
      ["ports on all", rule({ protocol: "all" }), "invalid rules[1].ports"],
      ["icmp without type", { name: "x", rules: [{ protocol: "icmp", destination: "10.0.0.1", code: 0 }] }, "invalid rules[0].type"],
      ["icmp type 256", { name: "x", rules: [{ protocol: "icmp", destination: "10.0.0.1", type: 256, code: 0 }] }, "invalid rules[0].type"],
      ["icmp code -2", { name: "x", rules: [{ protocol: "icmp", destination: "10.0.0.1", type: 8, code: -2 }] }, "invalid rules[0].code"],
      ["icmp type on tcp", rule({ type: 8 }), "invalid rules[1].type"],
      ["log not a bool", rule({ log: "yes" }), "invalid rules[1].log"],
      ["unknown rule field", rule({ direction: "egress" }), "invalid rules[1].direction"],
      ["globally_enabled not an object", { name: "x", rules: [], globally_enabled: true }, "invalid globally_enabled"],
      ["globally_enabled.running not a bool", { name: "x", rules: [], globally_enabled: { running: "yes" } }, "invalid globally_enabled.running"],
      ["globally_enabled unknown key", { name: "x", rules: [], globally_enabled: { tasks: true } }, "invalid globally_enabled.tasks"],
    ];
    for (const [what, body, field] of cases) {
      const res = typeof body === "string" ? await control().request("POST", BASE, { raw: body }) : await control().request("POST", BASE, { body });
      expect(res.status, `${what}: ${res.text}`).toBe(400);
      expect(errorOf(res), what).toContain(field);
      expect(revisionOf(res), what).toBeUndefined();
    }
    // The same on update and on bindings.
    const patch = await control().request("PATCH", `${BASE}/${guid}`, { body: { rules: [{ protocol: "tcp", destination: "10.0.0.1", ports: "99999" }] } });
    expect(patch.status).toBe(400);
    expect(errorOf(patch)).toContain("invalid rules[0].ports");
    for (const body of [{}, { data: "space" }, { data: [] }, { data: [{ id: "s" }] }]) {
      const res = await control().request("POST", `${BASE}/${guid}/relationships/running_spaces`, { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(res)).toMatch(/data/);
    }
    expect((await control().request("POST", `${BASE}/${guid}/relationships/tasks_spaces`, { body: { data: [{ guid: "s" }] } })).status).toBe(404);
    expect(await listAll(control()), "nothing was applied").toEqual(before);
  });

  it("answers 300 seeded random ASG bodies with 201 or a 4xx naming a field, never a 5xx, and stores exactly the valid ones", async () => {
    const seed = Number(process.env.WEFT_HOSTILE_SEED ?? 5150);
    const prng = new Prng(seed);
    const values: unknown[] = [null, true, 0, -1, 1, 255, 256, 65535, 65536, 1.5, "", "tcp", "udp", "icmp", "all", "80", "80,443", "8000-9000", "0", "1-", "-1",
      "10.0.0.1", "10.0.0.0/8", "10.0.0.1-10.0.0.9", "10.0.0.1,10.0.0.2", "300.0.0.1", "::1", "a".repeat(2000), "\u0000", [], {}, ["10.0.0.1"]];
    const keys = ["protocol", "destination", "ports", "type", "code", "log", "description"];
    const randomRule = () => {
      const r: Record<string, unknown> = { protocol: prng.pick(["tcp", "udp", "icmp", "all"]), destination: prng.pick(["10.0.0.1", "10.0.0.0/24", "0.0.0.0/0"]) };
      if (r.protocol === "icmp") Object.assign(r, { type: prng.range(-1, 255), code: prng.range(-1, 255) });
      if ((r.protocol === "tcp" || r.protocol === "udp") && prng.chance(0.7)) r.ports = prng.pick(["80", "443,8443", "8000-9000"]);
      for (let i = prng.range(0, 2); i > 0; i--) r[prng.chance(0.9) ? prng.pick(keys) : prng.string(5)] = prng.pick(values);
      return r;
    };
    const before = (await listAll(control())).length;
    let valid = 0;
    for (let i = 0; i < 300; i++) {
      const rules = prng.chance(0.05) ? prng.pick(values) : Array.from({ length: prng.range(0, 4) }, randomRule);
      const body = { name: `fuzz-${seed}-${i}`, rules, ...(prng.chance(0.2) ? { globally_enabled: prng.pick([{ running: true }, { staging: "x" }, null, { x: 1 }]) } : {}) };
      const res = await control().request("POST", BASE, { body });
      const ok = (() => {
        try {
          parseAsgRules(rules);
          const g = body.globally_enabled as unknown;
          return g === undefined || (typeof g === "object" && g !== null && Object.entries(g).every(([k, v]) => (k === "running" || k === "staging") && typeof v === "boolean"));
        } catch {
          return false;
        }
      })();
      expect(res.status, `seed ${seed} case ${i}: ${JSON.stringify(body).slice(0, 300)} -> ${res.text}`).toBe(ok ? 201 : 400);
      if (!ok) expect(errorOf(res)).toMatch(/^(invalid|missing) /);
      if (ok) valid++;
    }
    expect((await listAll(control())).length).toBe(before + valid);
  });
});
