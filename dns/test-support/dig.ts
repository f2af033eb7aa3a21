// Runs dig (from dnsutils) against a test server and parses what it printed: the status, the
// header flags, the answer records, and whether it fell back to TCP after a truncated answer.
import { execFile } from "node:child_process";

export interface DigRecord {
  readonly name: string;
  readonly ttl: number;
  readonly type: string;
  readonly data: string;
}

export interface DigResult {
  readonly status: string;
  readonly flags: readonly string[];
  readonly answers: readonly DigRecord[];
  /** Addresses of the A records, in answer order. */
  readonly addresses: readonly string[];
  readonly retriedOverTcp: boolean;
  /** The EDNS UDP size the server advertised in its OPT record, if any. */
  readonly serverUdpSize?: number;
  readonly text: string;
}

export function dig(port: number, args: readonly string[]): Promise<DigResult> {
  const argv = ["@127.0.0.1", "-p", String(port), "+time=2", "+tries=1", "+noall", "+comments", "+answer", ...args];
  return new Promise((resolve, reject) => {
    execFile("dig", argv, { timeout: 15_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`dig ${argv.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      const status = /status: ([A-Z0-9]+)/.exec(stdout)?.[1];
      if (!status) return reject(new Error(`dig printed no status:\n${stdout}${stderr}`));
      const flagsLine = [...stdout.matchAll(/;; flags: ([a-z ]*);/g)].pop()?.[1] ?? "";
      const answers: DigRecord[] = [];
      for (const line of stdout.split("\n")) {
        if (line.startsWith(";") || line.trim() === "") continue;
        const [name, ttl, , type, ...data] = line.split(/\s+/);
        if (name && ttl && type) answers.push({ name, ttl: Number(ttl), type, data: data.join(" ") });
      }
      const udpSize = /; EDNS: version: \d+, flags:[^;]*; udp: (\d+)/.exec(stdout)?.[1];
      resolve({
        status,
        flags: flagsLine.trim().split(/\s+/).filter(Boolean),
        answers,
        addresses: answers.filter((a) => a.type === "A").map((a) => a.data),
        retriedOverTcp: stdout.includes("Truncated, retrying in TCP mode"),
        ...(udpSize ? { serverUdpSize: Number(udpSize) } : {}),
        text: stdout,
      });
    });
  });
}
