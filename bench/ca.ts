// `npm run bench:ca`: container certificates signed per second by the platform CA on one core.
//
// The process re-executes itself under `taskset -c 1` (all of its threads on core 1; set
// WEFT_BENCH_CORE to change it, or run without taskset and it says so). Outside the timed loops it
// makes a root and 1,000 container CSRs (distinct keys and instance GUIDs, each asking for its GUID
// and a route). Timed, per signing: PEM decode, CSR parse, EC key import, CSR signature check,
// name checks, TBSCertificate encoding, ECDSA P-256 signing, PEM output (signInstanceCsr, exactly
// what control runs). Also timed: re-issuing from a stored public key (issueInstanceCert, no CSR),
// and, for reference, the same CSR-to-certificate work through @peculiar/x509's generator.
// Each rate is the median of --runs runs of at least --seconds each, counted two ways: per
// CPU-second of this process (user+system time, all threads, all on the one pinned core: what one
// core can sign when it is ours) and per wall-clock second (lower whenever other processes take
// turns on the same core; the load average is printed). signs_per_s is the per-CPU-second rate;
// signs_per_s_wall is reported beside it. Peer: Consul Connect's default CA signing rate limit,
// csr_max_per_second = 50. Writes bench/results/ca.json.
import { spawnSync } from "node:child_process";
import { X509Certificate, randomBytes, webcrypto } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateKeyAndCsr } from "../common/csr.js";
import { SIGN_SHA256, x509 } from "../common/x509.js";
import { CertificateIssuer } from "../control/ca/certificate-issuer.js";
import { issueInstanceCert, signInstanceCsr, workloadUri, type InstanceIdentity } from "../control/ca/instance-certificate.js";
import { createRootCa } from "../control/ca/root-ca.js";

const here = dirname(fileURLToPath(import.meta.url));
const PEER = { name: "Consul Connect default CA signing limit (csr_max_per_second)", value: 50 };
const REISSUE_TARGET = 250_000;

interface Args {
  runs: number;
  seconds: number;
  csrs: number;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const num = (flag: string, dflt: number): number => {
    const i = argv.indexOf(flag);
    return i >= 0 ? Number(argv[i + 1]) : dflt;
  };
  const o = argv.indexOf("--out");
  return {
    runs: num("--runs", 3),
    seconds: num("--seconds", 5),
    csrs: num("--csrs", 1000),
    out: o >= 0 ? argv[o + 1]! : join(here, "..", "..", "bench", "results", "ca.json"),
  };
}

/** Re-runs this script pinned to one core; returns the exit code, or null when already pinned or taskset is missing. */
function pinToOneCore(): number | null {
  if (process.env.WEFT_BENCH_PINNED === "1") return null;
  const core = process.env.WEFT_BENCH_CORE ?? "1";
  const r = spawnSync("taskset", ["-c", core, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, WEFT_BENCH_PINNED: "1", WEFT_BENCH_CORE: core },
  });
  if (r.error) {
    console.log(`taskset unavailable (${r.error.message}); running unpinned`);
    return null;
  }
  return r.status ?? 1;
}

interface Rate {
  perSecond: number;
  cpuPerSecond: number;
}

/** Median (by wall-clock rate) of `runs` runs, each calling op over the inputs for at least `seconds`. */
function measure(runs: number, seconds: number, count: number, op: (i: number) => void): Rate {
  const results: Rate[] = [];
  for (let r = 0; r < runs; r++) {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    do {
      for (let i = 0; i < count; i++) op(i);
      n += count;
    } while (performance.now() < until);
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    results.push({ perSecond: n / wallS, cpuPerSecond: n / ((cpu.user + cpu.system) / 1e6) });
  }
  results.sort((a, b) => a.perSecond - b.perSecond);
  return results[Math.floor(results.length / 2)]!;
}

function identity(i: number): InstanceIdentity {
  return {
    instanceGuid: `${randomBytes(4).toString("hex")}-0000-4000-8000-${String(i).padStart(12, "0")}`,
    appGuid: `app-${i % 100}`,
    spaceGuid: "space-1",
    orgGuid: "org-1",
    routes: [`app-${i % 100}.apps.internal`, `api-${i % 100}.apps.internal`],
  };
}

/** The same CSR-to-certificate work through @peculiar/x509 (async, WebCrypto), for reference. */
async function peculiarRate(root: { certPem: string; keyPem: string }, csrs: readonly string[], ids: readonly InstanceIdentity[], seconds: number): Promise<Rate> {
  const caCert = new x509.X509Certificate(root.certPem);
  const pkcs8 = x509.PemConverter.decode(root.keyPem)[0]!;
  const caKey = await webcrypto.subtle.importKey("pkcs8", pkcs8, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
  const aki = await x509.AuthorityKeyIdentifierExtension.create(caCert);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const i = n % csrs.length;
    const id = ids[i]!;
    const csr = new x509.Pkcs10CertificateRequest(csrs[i]!);
    if (!(await csr.verify())) throw new Error("CSR does not verify");
    const serial = randomBytes(16);
    serial[0] = (serial[0]! & 0x7f) | 1;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial.toString("hex"),
      subject: [{ OU: [`organization:${id.orgGuid}`] }, { OU: [`space:${id.spaceGuid}`] }, { OU: [`app:${id.appGuid}`] }, { CN: [id.instanceGuid] }],
      issuer: caCert.subjectName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: csr.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGN_SHA256,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
        aki,
        new x509.SubjectAlternativeNameExtension([
          ...[id.instanceGuid, ...id.routes].map((value) => ({ type: "dns" as const, value })),
          { type: "url" as const, value: workloadUri(id) },
        ]),
      ],
    });
    cert.toString("pem");
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  return { perSecond: n / ((performance.now() - t0) / 1000), cpuPerSecond: n / ((cpu.user + cpu.system) / 1e6) };
}

function row(metric: string, ours: number, peer: string, peerValue: number): Record<string, unknown> {
  return { metric, unit: "signs/s", ours: Math.round(ours), peer, peerValue, ratio: Math.round((ours / peerValue) * 10) / 10 };
}

function minutes(n: number, rate: number): string {
  const s = n / rate;
  return s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`;
}

async function main(): Promise<void> {
  const pinned = pinToOneCore();
  if (pinned !== null) process.exit(pinned);
  const args = parseArgs(process.argv.slice(2));
  const core = process.env.WEFT_BENCH_PINNED === "1" ? `core ${process.env.WEFT_BENCH_CORE ?? "1"} (taskset)` : "unpinned";
  const load = (): string => loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`bench:ca on ${core}, node ${process.version}, ${cpus().length} cores, load average ${load()}`);

  const root = await createRootCa();
  const issuer = new CertificateIssuer(root);
  const ids = Array.from({ length: args.csrs }, (_, i) => identity(i));
  const csrs: string[] = [];
  for (const id of ids) csrs.push((await generateKeyAndCsr({ commonName: id.instanceGuid, dnsNames: [id.instanceGuid, id.routes[0]!] })).csrPem);
  const publicKeys = csrs.map((csr, i) => signInstanceCsr(issuer, csr, ids[i]!).publicKeyPem);
  // The output is real: check a sample with Node's own X509 code before timing anything.
  const rootCert = new X509Certificate(root.certPem);
  for (let i = 0; i < Math.min(20, ids.length); i++) {
    const leaf = new X509Certificate(signInstanceCsr(issuer, csrs[i]!, ids[i]!).certificatePem);
    if (!leaf.verify(rootCert.publicKey) || !leaf.subjectAltName?.includes(ids[i]!.routes[1]!)) throw new Error("bad certificate");
  }
  console.log(`prepared ${csrs.length} CSRs (EC P-256, distinct keys and instances); ${args.runs} runs of >= ${args.seconds} s each`);

  const fromCsr = measure(args.runs, args.seconds, csrs.length, (i) => signInstanceCsr(issuer, csrs[i]!, ids[i]!));
  const reissue = measure(args.runs, args.seconds, csrs.length, (i) => issueInstanceCert(issuer, publicKeys[i]!, ids[i]!));
  const library = await peculiarRate(root, csrs, ids, Math.min(args.seconds, 3));
  console.log(`load average after the runs: ${load()}`);

  const fmt = (n: number): string => Math.round(n).toString().padStart(6);
  console.log(`\n${"".padEnd(40)} per CPU-second   per wall second`);
  const print = (label: string, r: Rate): void => console.log(`${label.padEnd(40)} ${fmt(r.cpuPerSecond)} /s        ${fmt(r.perSecond)} /s`);
  print("container certs from CSRs (ours)", fromCsr);
  print("re-issue from stored public key (ours)", reissue);
  print("@peculiar/x509 generator, same work", library);
  console.log(`peer: ${PEER.name} = ${PEER.value} /s`);
  console.log(
    `ratio ours/peer: ${(fromCsr.cpuPerSecond / PEER.value).toFixed(1)}x from CSRs, ${(reissue.cpuPerSecond / PEER.value).toFixed(1)}x re-issue ` +
      `(wall: ${(fromCsr.perSecond / PEER.value).toFixed(1)}x, ${(reissue.perSecond / PEER.value).toFixed(1)}x)`,
  );
  console.log(
    `re-issuing ${REISSUE_TARGET.toLocaleString("en-US")} certificates on one core: ${minutes(REISSUE_TARGET, reissue.cpuPerSecond)} from stored keys, ` +
      `${minutes(REISSUE_TARGET, fromCsr.cpuPerSecond)} from CSRs (at this run's wall rates: ${minutes(REISSUE_TARGET, reissue.perSecond)}, ` +
      `${minutes(REISSUE_TARGET, fromCsr.perSecond)}; peer at ${PEER.value}/s: ${minutes(REISSUE_TARGET, PEER.value)})`,
  );

  const result = {
    bench: "ca",
    rows: [
      row("signs_per_s", fromCsr.cpuPerSecond, PEER.name, PEER.value),
      row("signs_per_s_wall", fromCsr.perSecond, PEER.name, PEER.value),
      row("reissue_signs_per_s", reissue.cpuPerSecond, PEER.name, PEER.value),
      row("signs_per_s_vs_library", fromCsr.cpuPerSecond, "@peculiar/x509 X509CertificateGenerator (same CSR check and profile, same core, per CPU-second)", Math.round(library.cpuPerSecond)),
    ],
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${args.out}`);
}

await main();
