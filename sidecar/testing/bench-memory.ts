// Memory per container for bench/sidecar.ts, as proportional set size (PSS: shared pages split
// among the processes that map them), summed over every process a deployment needs, divided by
// the number of containers:
// - ours, shared mode (the default): one `weft sidecar` for the cell, each container with its own
//   certificate and its 61443 listener inside its own (bare) network namespace;
// - ours, per-container mode: one `weft sidecar --instance` per container, inside its namespace;
// - nginx-stream: one nginx (master + 1 worker) per container, since nginx cannot put listeners
//   into several namespaces from one process, so it would run as a sidecar per container too.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { promisify } from "node:util";
import pLimit from "p-limit";
import { eventually } from "../../common/eventually.js";
import { waitSidecarServing, writeSidecarContainer } from "../../common/sidecar-contract.js";
import { memoryKb, processTree } from "./bench-tools.js";
import { startNginxStream, weftCommand, type BenchFiles, type BenchProcess } from "./bench-peers.js";
import { unusedPort } from "./harness.js";
import { TEST_IDENTITY, issueInstance, type TestRoot } from "../../test/support/test-pki.js";

const execFileP = promisify(execFile);

export interface MemoryPoint {
  readonly containers: number;
  readonly pssKb: number;
  readonly rssKb: number;
  readonly processes: number;
}

export const perContainerMb = (p: MemoryPoint): number => p.pssKb / 1024 / p.containers;

/** Bare namespaces named wt<random><i>; remove() deletes every one made. */
async function namespaces(n: number): Promise<{ paths: string[]; remove(): Promise<void> }> {
  const prefix = `wtb${randomBytes(3).toString("hex")}`;
  const made: string[] = [];
  const limit = pLimit(8);
  const remove = async () => {
    await Promise.all(made.map((name) => limit(() => execFileP("ip", ["netns", "del", name]).catch(() => undefined))));
  };
  try {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        limit(async () => {
          const name = `${prefix}${i}`;
          await execFileP("ip", ["netns", "add", name]);
          made.push(name);
          await execFileP("ip", ["-n", name, "link", "set", "lo", "up"]);
        }),
      ),
    );
  } catch (err) {
    await remove();
    throw err;
  }
  return { paths: Array.from({ length: n }, (_, i) => `/var/run/netns/${prefix}${i}`), remove };
}

const guidOf = (i: number) => `bench-${String(i).padStart(4, "0")}`;

async function credsFor(root: TestRoot, i: number) {
  return issueInstance(root, { ...TEST_IDENTITY, instanceGuid: guidOf(i), routes: [`app-${i}.apps.internal`] });
}

export async function memoryShared(root: TestRoot, counts: readonly number[]): Promise<MemoryPoint[]> {
  const max = Math.max(...counts);
  const ns = await namespaces(max);
  const channel = await mkdtemp("/tmp/weft-bench-mem-");
  const [cmd = "", ...args] = [...weftCommand(), "sidecar", "--channel-dir", channel, "--ops-listen", "127.0.0.1:0", "--netns-concurrency", "2", "--log-level", "info"];
  const log = await open(`${channel}.log`, "w");
  const child = spawn(cmd, args, { stdio: ["ignore", log.fd, "inherit"] });
  await log.close();
  const points: MemoryPoint[] = [];
  try {
    let have = 0;
    for (const target of [...counts].sort((a, b) => a - b)) {
      const limit = pLimit(8);
      await Promise.all(
        Array.from({ length: target - have }, (_, k) =>
          limit(async () => {
            const i = have + k;
            const g = await writeSidecarContainer(channel, { instanceGuid: guidOf(i), netnsPath: ns.paths[i]!, containerIp: "10.255.0.2", credentials: await credsFor(root, i) });
            await waitSidecarServing(channel, guidOf(i), g, { timeoutMs: 300_000 });
          }),
        ),
      );
      have = target;
      const pids = await processTree(child.pid!); // the sidecar and its weft-tlsd
      points.push({ containers: target, ...(await memoryKb(pids)), processes: pids.length });
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    await ns.remove();
    await rm(channel, { recursive: true, force: true });
    await rm(`${channel}.log`, { force: true });
  }
  return points;
}

export async function memoryPerContainerMode(root: TestRoot, counts: readonly number[]): Promise<MemoryPoint[]> {
  const max = Math.max(...counts);
  const ns = await namespaces(max);
  const channel = await mkdtemp("/tmp/weft-bench-mem-");
  const children: ReturnType<typeof spawn>[] = [];
  const points: MemoryPoint[] = [];
  try {
    let have = 0;
    for (const target of [...counts].sort((a, b) => a - b)) {
      const limit = pLimit(4);
      await Promise.all(
        Array.from({ length: target - have }, (_, k) =>
          limit(async () => {
            const i = have + k;
            const g = await writeSidecarContainer(channel, { instanceGuid: guidOf(i), netnsPath: ns.paths[i]!, containerIp: "10.255.0.2", credentials: await credsFor(root, i) });
            const c = spawn("nsenter", [`--net=${ns.paths[i]!}`, "--", ...weftCommand(), "sidecar", "--instance", guidOf(i), "--channel-dir", channel, "--log-level", "warn"], { stdio: ["ignore", "ignore", "inherit"] });
            children.push(c);
            await waitSidecarServing(channel, guidOf(i), g, { timeoutMs: 300_000 });
          }),
        ),
      );
      have = target;
      const pids = (await Promise.all(children.map((c) => processTree(c.pid!)))).flat();
      points.push({ containers: target, ...(await memoryKb(pids)), processes: pids.length });
    }
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once("exit", r))));
    await ns.remove();
    await rm(channel, { recursive: true, force: true });
  }
  return points;
}

export async function memoryNginx(files: BenchFiles, appPort: number, counts: readonly number[]): Promise<MemoryPoint[]> {
  const procs: BenchProcess[] = [];
  const points: MemoryPoint[] = [];
  try {
    for (const target of [...counts].sort((a, b) => a - b)) {
      const limit = pLimit(8);
      const missing = target - procs.length;
      await Promise.all(Array.from({ length: missing }, () => limit(async () => procs.push(await startNginxStream(files, await unusedPort(), appPort, undefined, "nginx-mem", 1024)))));
      await eventually(async () => {
        const trees = await Promise.all(procs.map((p) => processTree(p.pid)));
        if (trees.some((t) => t.length < 2)) throw new Error("nginx workers not up yet");
      });
      const pids = (await Promise.all(procs.map((p) => processTree(p.pid)))).flat();
      points.push({ containers: target, ...(await memoryKb(pids)), processes: pids.length });
    }
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
  return points;
}

