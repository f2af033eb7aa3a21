// End to end, black box: control restarted (killed) and PostgreSQL "restarted" (the connection
// between control and the database cut by a proxy, then restored) while traffic flows. The cells
// fail static: established flows keep working, new connections under existing policies still
// connect, DNS still answers; afterwards every cell converges and new changes apply.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { openStream, probe, type Stream } from "../support/netns-probes.js";
import { createMesh, type Instance, type Mesh } from "./support/mesh.js";

interface Status {
  readonly revision: number;
  readonly cells: readonly { cell_id: string; connected: boolean; enforced_revision: number; lag: number }[];
}

describe.runIf(process.getuid?.() === 0)("e2e: control and PostgreSQL restarts during traffic", () => {
  let mesh: Mesh;
  let a1: Instance;
  let b1: Instance;
  let tcp: Stream;
  let udp: Stream;

  /** The stream is open and still receives replies. */
  const flowing = async (s: Stream, what: string) => {
    const n = s.lines.length;
    await eventually(
      () => {
        if (s.closed()) throw new Error(`${what} closed: ${s.lines.at(-1)}`);
        expect(s.lines.length).toBeGreaterThan(n + 5);
      },
      { timeoutMs: 10_000, message: `${what} flowing` },
    );
    expect(s.lines.slice(n).every((l) => l === `pong:${a1.ip}`)).toBe(true);
  };
  const converged = () =>
    eventually(
      async () => {
        const st = JSON.parse(await mesh.cliOk(["status", "--json"])) as Status;
        expect(st.cells.map((c) => c.cell_id).sort()).toEqual(["cell-1", "cell-2"]);
        for (const c of st.cells) expect(c).toMatchObject({ connected: true, lag: 0 });
        return st;
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "every cell connected and enforcing the current revision" },
    );
  const dnsAnswers = async (from: Instance, name: string) => {
    const r = await mesh.inContainer(from, ["dig", "+short", "+tries=1", "+time=2", name]);
    return r.stdout.split("\n").filter(Boolean).sort();
  };

  beforeAll(async () => {
    mesh = await createMesh({ store: "postgres" });
    const a = await mesh.registerApp("client");
    const b = await mesh.registerApp("server");
    await mesh.cliOk(["route", "map", "server", "server.apps.internal"]);
    a1 = await mesh.startInstance(mesh.cells[0]!, a);
    b1 = await mesh.startInstance(mesh.cells[1]!, b, 0, { tcp: [8080, 9090], udp: [8080] });
    await mesh.cliOk(["policy", "add", "client", "--destination-app", "server", "--protocol", "tcp", "--port", "8080", "--wait"]);
    await mesh.cliOk(["policy", "add", "client", "--destination-app", "server", "--protocol", "udp", "--port", "8080", "--wait"]);
    tcp = await openStream(mesh.fx, a1.ns, "tcp", b1.ip, 8080);
    udp = await openStream(mesh.fx, a1.ns, "udp", b1.ip, 8080);
  }, 180_000);
  afterAll(async () => {
    await mesh?.destroy();
  });

  it("control killed: flows, new connections and DNS keep working; on restart every cell converges and changes apply", async () => {
    const before = await converged();
    await mesh.control.stop("SIGKILL");
    await flowing(tcp, "tcp stream");
    await flowing(udp, "udp stream");
    expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 8080)).toBe(`pong:${a1.ip}`);
    expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 9090)).toMatch(/^error:/);
    expect(await dnsAnswers(a1, "server.apps.internal")).toEqual([b1.ip]);
    const down = await mesh.cli(["policy", "list"]);
    expect(down.code).not.toBe(0);

    mesh.startControl();
    await mesh.waitReady();
    const after = await converged();
    expect(after.revision).toBe(before.revision);
    await mesh.cliOk(["policy", "add", "client", "--destination-app", "server", "--protocol", "tcp", "--port", "9090", "--wait"]);
    expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 9090)).toBe(`pong:${a1.ip}`);
    await flowing(tcp, "tcp stream");
    await flowing(udp, "udp stream");
  });

  it("PostgreSQL away: flows and DNS keep working, writes fail clearly and change nothing; once it is back everything converges", async () => {
    const proxy = mesh.pgProxy!;
    const before = await converged();
    await proxy.cut();
    try {
      await flowing(tcp, "tcp stream");
      await flowing(udp, "udp stream");
      expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 9090)).toBe(`pong:${a1.ip}`);
      expect(await dnsAnswers(a1, "server.apps.internal")).toEqual([b1.ip]);
      // A write while the store is away is refused with a clear error, not a crash.
      const res = await mesh.api("POST", "/networking/v1/external/policies", {
        body: { policies: [{ source: { id: a1.app.guid }, destination: { id: b1.app.guid, protocol: "udp", ports: { start: 9999, end: 9999 } } }] },
      });
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(res.json).toMatchObject({ error: expect.any(String) as unknown });
      expect(mesh.control.running()).toBe(true);
    } finally {
      await proxy.restore();
    }
    // Back: control reconnects by itself; the refused write left nothing behind; changes apply.
    await eventually(
      async () => {
        const r = await mesh.cli(["policy", "list", "--json"]);
        expect(r.code).toBe(0);
        expect(r.stdout).not.toContain("9999");
      },
      { timeoutMs: 60_000, intervalMs: 500, message: "control serving from the store again" },
    );
    await mesh.cliOk(["policy", "remove", "client", "--destination-app", "server", "--protocol", "tcp", "--port", "9090"]);
    await eventually(async () => expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 9090)).toMatch(/^error:/), { timeoutMs: 10_000 });
    const b2 = await mesh.startInstance(mesh.cells[0]!, b1.app, 1);
    await eventually(async () => expect(await dnsAnswers(a1, "server.apps.internal")).toEqual([b1.ip, b2.ip].sort()), { timeoutMs: 10_000 });
    expect(await probe(mesh.fx, a1.ns, "tcp", b2.ip, 8080)).toBe(`pong:${a1.ip}`);
    const after = await converged();
    expect(after.revision).toBeGreaterThan(before.revision);
    await flowing(tcp, "tcp stream");
    await flowing(udp, "udp stream");
  });

  it("a cell's agent and DNS server killed and restarted: flows keep working, then the cell converges and serves names again", async () => {
    const cell = b1.cell;
    await cell.agent.stop("SIGKILL");
    await cell.dns.stop("SIGKILL");
    await flowing(tcp, "tcp stream");
    await flowing(udp, "udp stream");
    expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 8080)).toBe(`pong:${a1.ip}`);
    // A change made while the cell's agent is down reaches it when it is back.
    await mesh.cliOk(["policy", "add", "client", "--destination-app", "server", "--protocol", "tcp", "--port", "9090"]);

    cell.agent.start();
    cell.dns.start();
    await mesh.waitReady();
    await converged();
    expect(await probe(mesh.fx, a1.ns, "tcp", b1.ip, 9090)).toBe(`pong:${a1.ip}`);
    const b3 = await mesh.startInstance(cell, b1.app, 2);
    await eventually(async () => expect(await dnsAnswers(b1, "2.server.apps.internal")).toEqual([b3.ip]), { timeoutMs: 10_000 });
    expect(await probe(mesh.fx, a1.ns, "tcp", b3.ip, 8080)).toBe(`pong:${a1.ip}`);
    await flowing(tcp, "tcp stream");
    await flowing(udp, "udp stream");
  });
});
