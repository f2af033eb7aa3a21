// End to end, black box: service discovery (NAME.apps.internal, INDEX.NAME.apps.internal, the
// container's resolv.conf) and HTTPS on 61443 by name with the platform CA, across a certificate
// rotation. One mesh of real processes on the embedded store; clients are dig, getent, curl,
// openssl s_client and Node's TLS, run inside the containers with the resolv.conf a runtime writes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../../common/eventually.js";
import { createMesh, type App, type Instance, type Mesh } from "./support/mesh.js";

/** The A records in a dig answer (+short), sorted. */
const addresses = (out: string) =>
  out
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l))
    .sort();

const TLS_CLIENT = `
const tls = require("node:tls"), fs = require("node:fs");
const [host, name, caFile, mode] = process.argv.slice(1);
const s = tls.connect({ host, port: 61443, servername: name, ca: fs.readFileSync(caFile) });
let out = "";
s.on("secureConnect", () => {
  const cert = s.getPeerCertificate();
  const info = { authorized: s.authorized, serial: cert.serialNumber, san: cert.subjectaltname };
  if (mode === "stream") {
    console.log(JSON.stringify(info));
    setInterval(() => s.write("ping\\n"), 50);
    s.on("data", (d) => process.stdout.write(String(d)));
  } else {
    s.write("GET / HTTP/1.1\\r\\nhost: " + name + "\\r\\n\\r\\n");
    s.on("data", (d) => (out += d));
    s.on("end", () => console.log(JSON.stringify({ ...info, body: out.split("\\r\\n\\r\\n")[1] })));
  }
});
s.on("error", (e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(1); });`;

interface TlsResult {
  readonly authorized?: boolean;
  readonly serial?: string;
  readonly san?: string;
  readonly body?: string;
  readonly error?: string;
}

describe.runIf(process.getuid?.() === 0)("e2e: service discovery and HTTPS on 61443", () => {
  let mesh: Mesh;
  let client: Instance;
  let frontend: App;
  const cell = (i: number) => mesh.cells[i]!;

  const dig = async (from: Instance, name: string, extra: string[] = []) => {
    const r = await mesh.inContainer(from, ["dig", "+tries=1", "+time=2", ...extra, name]);
    if (r.code !== 0) throw new Error(`dig ${name}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const digShort = async (from: Instance, name: string) => addresses(await dig(from, name, ["+short"]));
  const tlsCall = async (from: Instance, host: string, name: string): Promise<TlsResult> => {
    const r = await mesh.inContainer(from, [process.execPath, "-e", TLS_CLIENT, host, name, join(from.credentialsDir, "ca.crt")]);
    return JSON.parse(r.stdout.trim().split("\n")[0] ?? "{}") as TlsResult;
  };

  beforeAll(async () => {
    mesh = await createMesh({ store: "embedded" });
    frontend = await mesh.registerApp("frontend");
    client = await mesh.startInstance(cell(0), frontend);
  }, 180_000);
  afterAll(async () => {
    await mesh?.destroy();
  });

  it("gives containers 169.254.0.2 and the apps.internal search domain, as a runtime writes them to resolv.conf", async () => {
    expect(client.result.dns).toEqual({ nameservers: ["169.254.0.2"], search: ["apps.internal"] });
    const seen = await mesh.inContainer(client, ["cat", "/etc/resolv.conf"]);
    expect(seen.stdout).toContain("search apps.internal");
    expect(seen.stdout).toContain("nameserver 169.254.0.2");
  });

  it("push, scale 1 -> 3 -> 1, index names, upper case, stop and delete", async () => {
    // Push: register the app, map its route, start one instance.
    const app = await mesh.registerApp("backend");
    await mesh.cliOk(["route", "map", "backend", "backend.apps.internal"]);
    const b0 = await mesh.startInstance(cell(1), app, 0);
    await eventually(async () => expect(await digShort(client, "backend.apps.internal")).toEqual([b0.ip]), { timeoutMs: 5_000 });

    // The short name through the search list, with the system resolver (getent) and Node's.
    const getent = await mesh.inContainer(client, ["getent", "ahostsv4", "backend"]);
    expect(getent.stdout.split(/\s+/)).toContain(b0.ip);
    const lookup = await mesh.inContainer(client, [process.execPath, "-e", 'require("dns").lookup("backend", 4, (e, a) => console.log(e ? e.code : a))']);
    expect(lookup.stdout.trim()).toBe(b0.ip);

    // By name over the overlay, once a policy allows it.
    await mesh.cliOk(["policy", "add", "frontend", "--destination-app", "backend", "--protocol", "tcp", "--port", "8080", "--wait"]);
    const curl = await mesh.inContainer(client, ["curl", "-sS", "--max-time", "5", "http://backend.apps.internal:8080/"]);
    expect(curl.stdout.trim()).toBe(`backend 8080 pong:${client.ip}`);

    // Scale to 3, on both cells.
    const b1 = await mesh.startInstance(cell(0), app, 1);
    const b2 = await mesh.startInstance(cell(1), app, 2);
    await eventually(async () => expect(await digShort(client, "backend.apps.internal")).toEqual([b0.ip, b1.ip, b2.ip].sort()), { timeoutMs: 5_000 });
    for (const b of [b0, b1, b2]) expect(await digShort(client, `${b.index}.backend.apps.internal`)).toEqual([b.ip]);
    expect(await digShort(client, "1.BACKEND.Apps.Internal")).toEqual([b1.ip]);
    expect(await digShort(client, "BACKEND.APPS.INTERNAL")).toEqual([b0.ip, b1.ip, b2.ip].sort());
    expect(await digShort(client, "3.backend.apps.internal")).toEqual([]);
    // The answers are shuffled: over a few queries, each instance comes first.
    const first = new Set<string>();
    await eventually(
      async () => {
        const [head] = (await dig(client, "backend.apps.internal", ["+short"])).split("\n");
        if (head) first.add(head.trim());
        expect(first.size).toBe(3);
      },
      { timeoutMs: 20_000, intervalMs: 0, message: "each instance first in some answer" },
    );
    // Each instance answers by its index name, over HTTP.
    for (const b of [b0, b1, b2]) {
      const r = await mesh.inContainer(client, ["curl", "-sS", "--max-time", "5", "-w", "%{remote_ip}", `http://${b.index}.backend.apps.internal:8080/`]);
      expect(r.stdout).toBe(`backend 8080 pong:${client.ip}\n${b.ip}`);
    }

    // Scale back to 1.
    await mesh.stopInstance(b1);
    await mesh.stopInstance(b2);
    await eventually(async () => expect(await digShort(client, "backend.apps.internal")).toEqual([b0.ip]), { timeoutMs: 5_000 });
    expect(await digShort(client, "1.backend.apps.internal")).toEqual([]);

    // Stop: the name still exists but has no answers (NOERROR, not NXDOMAIN).
    await mesh.stopInstance(b0);
    await eventually(
      async () => {
        const out = await dig(client, "backend.apps.internal");
        expect(out).toContain("status: NOERROR");
        expect(out).toMatch(/ANSWER: 0,/);
      },
      { timeoutMs: 5_000 },
    );
    // Delete: the app, its route and its policies go.
    await mesh.cliOk(["app", "delete", "backend"]);
    expect(await mesh.cliOk(["route", "list"])).not.toContain("backend.apps.internal");
    expect(await mesh.cliOk(["policy", "list"])).not.toContain("backend");
    const gone = await dig(client, "backend.apps.internal");
    expect(gone).toContain("status: NOERROR");
    expect(gone).toMatch(/ANSWER: 0,/);
    // Names outside apps.internal are not answered from the registry (forwarded upstream).
    expect(await dig(client, "backend.example.test")).not.toContain("status: NOERROR");
  });

  it("HTTPS on 61443 by name, verified against the platform CA, across a leaf rotation", async () => {
    const app = await mesh.registerApp("secure");
    await mesh.cliOk(["route", "map", "secure", "secure.apps.internal"]);
    const server = await mesh.startInstance(cell(1), app, 0);
    await mesh.cliOk(["policy", "add", "frontend", "--destination-app", "secure", "--protocol", "tcp", "--port", "61443", "--wait"]);
    await eventually(async () => expect(await digShort(client, "secure.apps.internal")).toEqual([server.ip]), { timeoutMs: 5_000 });
    const caFile = join(client.credentialsDir, "ca.crt");
    const caPem = readFileSync(caFile, "utf8");

    // Node's TLS, by name: the chain verifies against the bundle the client container was given.
    const first = await tlsCall(client, "secure.apps.internal", "secure.apps.internal");
    expect(first).toMatchObject({ authorized: true, body: expect.stringMatching(/^secure 8080 pong:/) as unknown });
    expect(first.san).toContain("DNS:secure.apps.internal");
    expect(first.san).toContain(`DNS:${server.id}`);
    // openssl s_client, by name, with hostname verification.
    const ossl = await mesh.inContainer(client, [
      "sh",
      "-c",
      `echo | openssl s_client -connect secure.apps.internal:61443 -servername secure.apps.internal -verify_hostname secure.apps.internal -CAfile ${caFile} -verify_return_error 2>&1; true`,
    ]);
    expect(ossl.stdout).toContain("Verify return code: 0 (ok)");
    // The certificate is for the name, not for the address; 8080 stays closed without its policy.
    expect(await tlsCall(client, server.ip, server.ip)).toEqual({ error: "ERR_TLS_CERT_ALTNAME_INVALID" });
    const plain = await mesh.inContainer(client, ["curl", "-sS", "--max-time", "3", `http://${server.ip}:8080/`]);
    expect(plain.code).not.toBe(0);
    // The app's own files: its certificate chains to the same CA.
    const leaf = new X509Certificate(readFileSync(join(server.credentialsDir, "instance.crt")));
    expect(leaf.checkIssued(new X509Certificate(caPem))).toBe(true);

    // A long-lived connection carrying traffic, then a rotation: a new route re-issues the leaf.
    const stream = mesh.fx.spawn(client.ns, [process.execPath, "-e", TLS_CLIENT, server.ip, "secure.apps.internal", caFile, "stream"]);
    let out = "";
    stream.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    const pongs = () => out.split("\n").filter((l) => l.startsWith("pong:")).length;
    await eventually(() => expect(pongs()).toBeGreaterThan(2), { timeoutMs: 10_000, message: "stream flowing" });
    expect(JSON.parse(out.split("\n")[0]!)).toMatchObject({ authorized: true, serial: first.serial });

    await mesh.cliOk(["route", "map", "secure", "secure-v2.apps.internal"]);
    const rotated = await eventually(
      async () => {
        const r = await tlsCall(client, "secure.apps.internal", "secure-v2.apps.internal");
        expect(r.authorized).toBe(true);
        expect(r.serial).not.toBe(first.serial);
        return r;
      },
      { timeoutMs: 20_000, intervalMs: 200, message: "new handshakes present the re-issued certificate" },
    );
    expect(rotated.san).toContain("DNS:secure.apps.internal");
    expect(rotated.san).toContain("DNS:secure-v2.apps.internal");
    // The connection made before the rotation still carries traffic.
    const before = pongs();
    await eventually(() => expect(pongs()).toBeGreaterThan(before + 5), { timeoutMs: 10_000, message: "old connection still flowing" });
    expect(stream.exitCode).toBeNull();
    stream.kill("SIGKILL");
    // Both names resolve and verify now.
    expect(await digShort(client, "secure-v2.apps.internal")).toEqual([server.ip]);
    expect(await tlsCall(client, "secure-v2.apps.internal", "secure.apps.internal")).toMatchObject({ authorized: true, serial: rotated.serial });
  });
});
