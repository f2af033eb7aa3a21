// What `weft up` proves, for real: probes run inside the containers (with `ip netns exec`, so the
// container's resolv.conf from the CNI result applies: names resolve through the cell's weft dns),
// over the overlay, plain on 8080 and TLS on 61443 verified against the platform CA bundle the app
// was given. Denials must be real refusals of a name that resolved, not a DNS failure.
import type { Mesh, MeshContainer } from "./mesh.js";
import type { Example } from "./example.js";

const PROBE = `
const fs = require("node:fs");
const spec = JSON.parse(process.argv[1]);
const done = (r) => { process.stdout.write(JSON.stringify(r) + "\\n"); process.exit(0); };
setTimeout(() => done({ ok: false, error: "TIMEOUT" }), spec.timeoutMs);
if (spec.kind === "dns") {
  require("node:dns").lookup(spec.host, { all: true, family: 4 }, (err, addrs) =>
    err ? done({ ok: false, error: err.code }) : done({ ok: true, addresses: addrs.map((a) => a.address).sort() }));
} else {
  const mod = require(spec.kind === "https" ? "node:https" : "node:http");
  const opts = { host: spec.host, port: spec.port, path: "/", agent: false };
  if (spec.kind === "https") opts.ca = fs.readFileSync(spec.ca);
  const req = mod.get(opts, (res) => {
    const cert = spec.kind === "https" ? res.socket.getPeerCertificate() : undefined;
    let body = "";
    res.on("data", (d) => (body += d));
    res.on("end", () => {
      let json; try { json = JSON.parse(body); } catch { json = body; }
      done({ ok: true, status: res.statusCode, body: json, authorized: res.socket.authorized, san: cert && cert.subjectaltname });
    });
  });
  req.on("error", (e) => done({ ok: false, error: e.code || e.message }));
}`;

export interface ProbeResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly status?: number;
  readonly body?: { app?: string; index?: number; cell?: string; ip?: string; client?: string };
  readonly addresses?: string[];
  readonly authorized?: boolean;
  readonly san?: string;
}

export interface CheckResult {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

export async function probe(mesh: Mesh, from: MeshContainer, spec: { kind: "dns" | "http" | "https"; host: string; port?: number; ca?: string; timeoutMs?: number }): Promise<ProbeResult> {
  const timeoutMs = spec.timeoutMs ?? 5000;
  const r = await mesh.exec(from.ns, [process.execPath, "-e", PROBE, JSON.stringify({ ...spec, timeoutMs })], { timeoutMs: timeoutMs + 5000 });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as ProbeResult;
  } catch {
    return { ok: false, error: `probe failed: ${(r.stderr || r.stdout).trim().slice(0, 200)}` };
  }
}

const DENIED = new Set(["ECONNREFUSED", "TIMEOUT", "ECONNRESET", "EHOSTUNREACH", "ETIMEDOUT"]);

export async function runChecks(mesh: Mesh, ex: Example): Promise<CheckResult[]> {
  const { a, b, c } = ex;
  const label = (x: MeshContainer) => `${x.spec.appName}/${x.spec.index} on ${x.cell.id}`;
  const reached = (name: string, want: MeshContainer | "b", from: MeshContainer, r: ProbeResult, extra = ""): CheckResult => {
    if (!r.ok) return { name, pass: false, detail: `failed: ${r.error}` };
    const body = r.body ?? {};
    const okApp = want === "b" ? body.app === "b" : body.app === want.spec.appName && body.index === want.spec.index;
    const seen = body.client?.replace(/^::ffff:/, "");
    const pass = r.status === 200 && okApp && (extra !== "" || seen === from.ip);
    const who = `${body.app}/${body.index} on ${body.cell}`;
    return { name, pass, detail: pass ? `${who} answered${extra || `, saw source ${seen}`}` : `unexpected answer: ${JSON.stringify(r).slice(0, 160)}` };
  };
  const denied = (name: string, r: ProbeResult): CheckResult => {
    if (r.ok) return { name, pass: false, detail: `NOT denied: ${r.body?.app}/${r.body?.index} answered` };
    const pass = r.error !== undefined && DENIED.has(r.error);
    return { name, pass, detail: pass ? `denied (${r.error === "ECONNREFUSED" ? "rejected" : r.error})` : `failed before the network: ${r.error}` };
  };

  const jobs: Promise<CheckResult>[] = [
    probe(mesh, a, { kind: "dns", host: "b.apps.internal" }).then((r) => {
      const want = [b[0].ip, b[1].ip].sort();
      const pass = r.ok && JSON.stringify(r.addresses) === JSON.stringify(want);
      return { name: "A resolves b.apps.internal (both B instances)", pass, detail: r.ok ? (r.addresses ?? []).join(", ") : `failed: ${r.error}` };
    }),
    probe(mesh, a, { kind: "http", host: "0.b.apps.internal", port: 8080 }).then((r) => reached(`A -> 0.b.apps.internal:8080 (${label(b[0])})`, b[0], a, r)),
    probe(mesh, a, { kind: "http", host: "1.b.apps.internal", port: 8080 }).then((r) => reached(`A -> 1.b.apps.internal:8080 (${label(b[1])})`, b[1], a, r)),
    probe(mesh, a, { kind: "http", host: "c.apps.internal", port: 8080 }).then((r) => reached(`A -> c.apps.internal:8080 (${label(c)})`, c, a, r)),
    probe(mesh, a, { kind: "https", host: "b.apps.internal", port: 61443, ca: a.caFile }).then((r) =>
      reached("A -> https://b.apps.internal:61443", "b", a, r, r.authorized ? ", certificate verified against the platform CA" : ""),
    ),
    probe(mesh, a, { kind: "https", host: "c.apps.internal", port: 61443, ca: a.caFile }).then((r) =>
      reached("A -> https://c.apps.internal:61443", c, a, r, r.authorized ? ", certificate verified against the platform CA" : ""),
    ),
    probe(mesh, b[0], { kind: "http", host: "c.apps.internal", port: 8080, timeoutMs: 3000 }).then((r) => denied(`B (${b[0].cell.id}) -> c.apps.internal:8080 is denied`, r)),
    probe(mesh, b[1], { kind: "http", host: "c.apps.internal", port: 8080, timeoutMs: 3000 }).then((r) => denied(`B (${b[1].cell.id}) -> c.apps.internal:8080 is denied`, r)),
    probe(mesh, b[1], { kind: "https", host: "c.apps.internal", port: 61443, ca: b[1].caFile, timeoutMs: 3000 }).then((r) =>
      denied(`B (${b[1].cell.id}) -> https://c.apps.internal:61443 is denied`, r),
    ),
  ];
  return Promise.all(jobs);
}

/** The checks as a table, and a closing line. */
export function formatChecks(results: readonly CheckResult[]): string {
  const w = Math.max(...results.map((r) => r.name.length), 5);
  const lines = [`  ${"check".padEnd(w)}  result  detail`, `  ${"-".repeat(w)}  ------  ------`];
  for (const r of results) lines.push(`  ${r.name.padEnd(w)}  ${(r.pass ? "pass" : "FAIL").padEnd(6)}  ${r.detail}`);
  const failed = results.filter((r) => !r.pass).length;
  lines.push("", failed === 0 ? `All ${results.length} checks passed.` : `${failed} of ${results.length} checks FAILED.`);
  return lines.join("\n") + "\n";
}
