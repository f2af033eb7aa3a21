// End to end, black box: policies between apps over the overlay, on one mesh of real processes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { createMesh, type App, type Instance, type Mesh } from "./support/mesh.js";
import { probe, startServer } from "../support/netns-probes.js";

describe.runIf(process.getuid?.() === 0)("e2e: overlay and policies", () => {
  let mesh: Mesh;
  let a: App;
  let b: App;
  let a1: Instance;
  let b1: Instance;
  let b2: Instance;
  let c: App;
  let m: App;
  let c2: Instance;
  let m1: Instance;
  let m2: Instance;
  const MANY_TCP = [8080, 8081, 9000, 9001, 9002, 9003, 40000];
  const MANY_UDP = [9000, 9001, 9002, 9003, 5353];

  beforeAll(async () => {
    mesh = await createMesh({ store: "postgres" });
    a = await mesh.registerApp("frontend");
    b = await mesh.registerApp("backend");
    a1 = await mesh.startInstance(mesh.cells[0]!, a);
    b1 = await mesh.startInstance(mesh.cells[0]!, b, 0);
    b2 = await mesh.startInstance(mesh.cells[1]!, b, 1);
    c = await mesh.registerApp("caller");
    m = await mesh.registerApp("multi");
    c2 = await mesh.startInstance(mesh.cells[1]!, c);
    m1 = await mesh.startInstance(mesh.cells[0]!, m, 0, { tcp: MANY_TCP, udp: MANY_UDP });
    m2 = await mesh.startInstance(mesh.cells[1]!, m, 1, { tcp: MANY_TCP, udp: MANY_UDP });
  }, 180_000);
  afterAll(async () => {
    await mesh?.destroy();
  });

  it("smoke: no policy, no connection; a policy added with the CLI connects; removed, denied", async () => {
    for (const dst of [b1, b2]) expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toMatch(/^error:/);
    await mesh.cliOk(["policy", "add", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080", "--wait"]);
    for (const dst of [b1, b2]) expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toBe(`pong:${a1.ip}`);
    await mesh.cliOk(["policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080"]);
    for (const dst of [b1, b2]) {
      await eventually(async () => expect(await probe(mesh.fx, a1.ns, "tcp", dst.ip, 8080)).toMatch(/^error:/), { timeoutMs: 10_000 });
    }
  });

  it("a task of an app reaches another app under the app's policy, and only under it", async () => {
    const task = await mesh.startInstance(mesh.cells[1]!, a, 7, { lifecycle: "task" });
    expect(await probe(mesh.fx, task.ns, "tcp", b1.ip, 8080)).toMatch(/^error:/);
    await mesh.cliOk(["policy", "add", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080", "--wait"]);
    expect(await probe(mesh.fx, task.ns, "tcp", b1.ip, 8080)).toBe(`pong:${task.ip}`);
    expect(await probe(mesh.fx, task.ns, "tcp", b2.ip, 8080)).toBe(`pong:${task.ip}`);
    await mesh.cliOk(["policy", "remove", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080"]);
    await eventually(async () => expect(await probe(mesh.fx, task.ns, "tcp", b1.ip, 8080)).toMatch(/^error:/), { timeoutMs: 10_000 });
    await mesh.stopInstance(task);
  });

  it("many ports and port ranges, TCP and UDP, on one cell and across cells", async () => {
    const add = (src: string, proto: string, port: string) =>
      mesh.cliOk(["policy", "add", src, "--destination-app", "multi", "--protocol", proto, "--port", port, "--wait"]);
    await add("frontend", "tcp", "8080");
    await add("frontend", "tcp", "9000-9002");
    await add("frontend", "udp", "9001-9003");
    // frontend is on cell 1 with m1 and across the underlay from m2.
    for (const dst of [m1, m2]) {
      const tcp = await Promise.all(MANY_TCP.map(async (p) => [p, await probe(mesh.fx, a1.ns, "tcp", dst.ip, p)] as const));
      expect(Object.fromEntries(tcp)).toEqual({
        8080: `pong:${a1.ip}`,
        8081: "error:ECONNREFUSED",
        9000: `pong:${a1.ip}`,
        9001: `pong:${a1.ip}`,
        9002: `pong:${a1.ip}`,
        9003: "error:ECONNREFUSED",
        40000: "error:ECONNREFUSED",
      });
      const udp = await Promise.all(MANY_UDP.map(async (p) => [p, await probe(mesh.fx, a1.ns, "udp", dst.ip, p)] as const));
      expect(Object.fromEntries(udp.map(([p, r]) => [p, r.startsWith("pong:") ? r : "denied"]))).toEqual({
        9000: "denied",
        9001: `pong:${a1.ip}`,
        9002: `pong:${a1.ip}`,
        9003: `pong:${a1.ip}`,
        5353: "denied",
      });
    }
    // The whole port space for another app (on cell 2: same cell as m2, across from m1), TCP only.
    for (const dst of [m1, m2]) expect(await probe(mesh.fx, c2.ns, "tcp", dst.ip, 40000)).toMatch(/^error:/);
    await add("caller", "tcp", "1-65535");
    for (const dst of [m1, m2]) {
      for (const p of MANY_TCP) expect(await probe(mesh.fx, c2.ns, "tcp", dst.ip, p)).toBe(`pong:${c2.ip}`);
      expect(await probe(mesh.fx, c2.ns, "udp", dst.ip, 9001)).toMatch(/^error:/);
    }
    // What the CLI lists is what was added; the 1-65535 policy did not open frontend -> multi.
    const listed = JSON.parse(await mesh.cliOk(["policy", "list", "--json"])) as unknown;
    expect(JSON.stringify(listed)).toContain("65535");
    expect(await probe(mesh.fx, a1.ns, "tcp", m2.ip, 40000)).toBe("error:ECONNREFUSED");
  });

  it("the destination sees the source container's own IP, same cell and across cells, TCP and UDP", async () => {
    // Policies from the previous scenario: frontend -> multi tcp 8080 and udp 9001-9003.
    expect(await probe(mesh.fx, a1.ns, "tcp", m1.ip, 8080)).toBe(`pong:${a1.ip}`);
    expect(await probe(mesh.fx, a1.ns, "tcp", m2.ip, 8080)).toBe(`pong:${a1.ip}`);
    expect(await probe(mesh.fx, a1.ns, "udp", m2.ip, 9001)).toBe(`pong:${a1.ip}`);
    // And over HTTP with a real client (curl), the server's view of its peer is the source container.
    const http = await mesh.inContainer(a1, ["curl", "-sS", "--max-time", "5", `http://${m2.ip}:8080/`]);
    expect(http.stdout.trim()).toBe(`multi 8080 pong:${a1.ip}`);
    // The addresses are from each cell's own lease.
    expect(a1.ip.split(".").slice(0, 3)).toEqual(m1.ip.split(".").slice(0, 3));
    expect(a1.ip.split(".").slice(0, 3)).not.toEqual(m2.ip.split(".").slice(0, 3));
  });

  it("self-service: a network.write token creates, lists and deletes policies only in its own spaces", async () => {
    const o1 = await mesh.registerApp("other-src", "space-other", "org-2");
    const o2 = await mesh.registerApp("other-dst", "space-other", "org-2");
    const o3 = await mesh.startInstance(mesh.cells[1]!, o2);
    await mesh.cliOk(["policy", "add", o1.guid, "--destination-app", o2.guid, "--protocol", "tcp", "--port", "7000"]);
    const token = (await mesh.cliOk(["token", "create", "--scope", "network.write", "--space", "space-1", "--subject", "developer", "--ttl", "1h"])).trim();
    const dev = { token };

    // In its space: create (enforced on every cell), list, delete.
    await mesh.cliOk(["policy", "add", "backend", "--destination-app", "frontend", "--protocol", "tcp", "--port", "8080", "--wait"], dev);
    expect(await probe(mesh.fx, b2.ns, "tcp", a1.ip, 8080)).toBe(`pong:${b2.ip}`);
    const mine = await mesh.api("GET", "/networking/v1/external/policies", dev);
    expect(mine.status).toBe(200);
    const ids = (mine.json as { policies: { source: { id: string }; destination: { id: string } }[] }).policies.flatMap((p) => [p.source.id, p.destination.id]);
    expect(ids).toContain(b.guid);
    expect(ids).not.toContain(o1.guid);
    expect(ids).not.toContain(o2.guid);
    const listed = await mesh.cliOk(["policy", "list"], dev);
    expect(listed).toContain("backend");
    expect(listed).not.toContain("other-");

    // Outside its spaces: no create (either end), no delete, and nothing changes.
    const foreign = await mesh.cli(["policy", "add", o1.guid, "--destination-app", o2.guid, "--protocol", "tcp", "--port", "8080"], dev);
    expect(foreign.code).not.toBe(0);
    const across = await mesh.api("POST", "/networking/v1/external/policies", { ...dev, body: { policies: [{ source: { id: a.guid }, destination: { id: o2.guid, protocol: "tcp", ports: { start: 8080, end: 8080 } } }] } });
    expect(across.status).toBe(403);
    expect(across.json).toMatchObject({ error: expect.any(String) as unknown });
    const del = await mesh.api("POST", "/networking/v1/external/policies/delete", { ...dev, body: { policies: [{ source: { id: o1.guid }, destination: { id: o2.guid, protocol: "tcp", ports: { start: 7000, end: 7000 } } }] } });
    expect(del.status).toBe(403);
    expect(await probe(mesh.fx, a1.ns, "tcp", o3.ip, 8080)).toMatch(/^error:/);
    const all = await mesh.api("GET", "/networking/v1/external/policies");
    expect(JSON.stringify(all.json)).toContain(o1.guid);

    await mesh.cliOk(["policy", "remove", "backend", "--destination-app", "frontend", "--protocol", "tcp", "--port", "8080"], dev);
    const after = await mesh.api("GET", "/networking/v1/external/policies", dev);
    const pairs = (after.json as { policies: { source: { id: string }; destination: { id: string } }[] }).policies.map((p) => `${p.source.id}->${p.destination.id}`);
    expect(pairs).not.toContain(`${b.guid}->${a.guid}`);
    await eventually(async () => expect(await probe(mesh.fx, b2.ns, "tcp", a1.ip, 8080)).toMatch(/^error:/), { timeoutMs: 10_000 });
  });

  it("ASGs: egress beyond the overlay only with an ASG; a wide-open ASG does not open the overlay", async () => {
    const outside = mesh.outside;
    await startServer(mesh.fx, outside, outside.underlayIp, { tcp: [7000, 7001], udp: [7000] });
    const e = await mesh.registerApp("egress", "space-egress", "org-1");
    const e1 = await mesh.startInstance(mesh.cells[1]!, e);
    const cellIp = (i: Instance) => i.cell.ns.underlayIp;
    // No ASG: nothing leaves the overlay.
    for (const from of [a1, e1]) expect(await probe(mesh.fx, from.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);

    // An ASG bound to one space opens exactly its rule (tcp 7000 to the outside host), for that space.
    const rule = JSON.stringify([{ protocol: "tcp", destination: `${outside.underlayIp}/32`, ports: "7000" }]);
    await mesh.cliOk(["asg", "create", "outside-7000", rule]);
    await mesh.cliOk(["asg", "bind", "outside-7000", "space-egress", "--wait"]);
    expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cellIp(e1)}`);
    expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7001)).toMatch(/^error:/);
    expect(await probe(mesh.fx, e1.ns, "udp", outside.underlayIp, 7000)).toMatch(/^error:/);
    expect(await probe(mesh.fx, a1.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/);

    // A wide-open running default: everything reaches the outside (masqueraded to the cell's
    // underlay IP), but the overlay still needs policies: no policy, no connection.
    const wide = JSON.stringify([{ protocol: "all", destination: "0.0.0.0/0" }]);
    await mesh.cliOk(["asg", "create", "wide-open", wide, "--running-default", "--wait"]);
    expect(await probe(mesh.fx, a1.ns, "tcp", outside.underlayIp, 7001)).toBe(`pong:${cellIp(a1)}`);
    expect(await probe(mesh.fx, a1.ns, "udp", outside.underlayIp, 7000)).toBe(`pong:${cellIp(a1)}`);
    expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7001)).toBe(`pong:${cellIp(e1)}`);
    for (const [from, to] of [[a1, b1], [a1, b2], [e1, m1], [e1, m2], [b2, a1]] as const) {
      expect(await probe(mesh.fx, from.ns, "tcp", to.ip, 8080)).toMatch(/^error:/);
    }
    expect(await probe(mesh.fx, a1.ns, "udp", m2.ip, 9000)).toMatch(/^error:/);

    // Deleted, the default closes again; the space's own ASG stays.
    await mesh.cliOk(["asg", "delete", "wide-open", "--wait"]);
    await eventually(async () => expect(await probe(mesh.fx, a1.ns, "tcp", outside.underlayIp, 7001)).toMatch(/^error:/), { timeoutMs: 10_000 });
    expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7000)).toBe(`pong:${cellIp(e1)}`);
    expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7001)).toMatch(/^error:/);
    // Unbound, the space's containers lose it too, without a restart.
    await mesh.cliOk(["asg", "unbind", "outside-7000", "space-egress", "--wait"]);
    await eventually(async () => expect(await probe(mesh.fx, e1.ns, "tcp", outside.underlayIp, 7000)).toMatch(/^error:/), { timeoutMs: 10_000 });
  });
});
