// Network namespaces for kernel tests and benchmarks: an underlay (a namespace with a bridge),
// cells attached to it by veth pairs, each with its own underlay IP, an "outside" host on the same
// underlay, and bare container namespaces for the code under test to wire up.
//
// Every namespace is named `wt<unique>...`, every veth is created inside a namespace and moved
// straight to its peer's, and nothing is done in the machine's own namespace: no links, routes,
// firewall rules or sysctls there. destroy() kills every process started through the fixture and
// deletes every namespace it made; call it from afterAll/afterEach so it runs when a test fails.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface Namespace {
  readonly name: string;
  readonly path: string;
}

export interface Cell extends Namespace {
  readonly underlayIp: string;
  readonly underlayDev: string;
}

export interface NetnsFixture {
  readonly prefix: string;
  readonly underlay: Namespace;
  /** The underlay subnet, e.g. 10.211.0.0/24; cells get .11, .12, ...; outside hosts .100+. */
  readonly underlayCidr: string;
  readonly underlayMtu: number;
  addCell(): Promise<Cell>;
  /** A host on the underlay beyond every cell (for egress tests). */
  addOutside(): Promise<Cell>;
  addContainer(): Promise<Namespace>;
  /** Runs a command inside a namespace and returns stdout; throws on a non-zero exit. */
  exec(ns: Namespace, argv: readonly string[], input?: string): Promise<string>;
  /** Starts a long-lived process inside a namespace; destroy() kills it. */
  spawn(ns: Namespace, argv: readonly string[]): ChildProcess;
  destroy(): Promise<void>;
}

export interface FixtureOptions {
  /** Third octet of the underlay subnet 10.211.X.0/24 (namespaces isolate fixtures anyway). */
  readonly subnet?: number;
  readonly mtu?: number;
}

async function ip(args: readonly string[]): Promise<void> {
  await execFileP("ip", [...args]);
}

export async function createNetnsFixture(opts: FixtureOptions = {}): Promise<NetnsFixture> {
  const prefix = `wt${randomBytes(4).toString("hex")}`;
  const net = `10.211.${opts.subnet ?? 0}`;
  const mtu = opts.mtu ?? 1500;
  const namespaces: Namespace[] = [];
  const children = new Set<ChildProcess>();
  let cells = 0;
  let outsides = 0;
  let containers = 0;

  const addNamespace = async (suffix: string): Promise<Namespace> => {
    const name = `${prefix}${suffix}`;
    await ip(["netns", "add", name]);
    const ns = { name, path: `/var/run/netns/${name}` };
    namespaces.push(ns);
    await ip(["-n", name, "link", "set", "lo", "up"]);
    return ns;
  };

  const attach = async (suffix: string, hostOctet: number): Promise<Cell> => {
    const ns = await addNamespace(suffix);
    const port = `p${suffix}`;
    // Created inside the new namespace, the peer moved straight into the underlay's.
    await ip(["-n", ns.name, "link", "add", "eth0", "mtu", String(mtu), "type", "veth", "peer", "name", port, "mtu", String(mtu), "netns", underlay.name]);
    await ip(["-n", underlay.name, "link", "set", port, "master", "br0", "up"]);
    const underlayIp = `${net}.${hostOctet}`;
    await ip(["-n", ns.name, "addr", "add", `${underlayIp}/24`, "dev", "eth0"]);
    await ip(["-n", ns.name, "link", "set", "eth0", "up"]);
    return { ...ns, underlayIp, underlayDev: "eth0" };
  };

  const underlay = await addNamespace("u");
  try {
    await ip(["-n", underlay.name, "link", "add", "br0", "mtu", String(mtu), "type", "bridge"]);
    await ip(["-n", underlay.name, "link", "set", "br0", "up"]);
  } catch (err) {
    await ip(["netns", "del", underlay.name]).catch(() => undefined);
    throw err;
  }

  const fixture: NetnsFixture = {
    prefix,
    underlay,
    underlayCidr: `${net}.0/24`,
    underlayMtu: mtu,
    addCell: () => attach(`c${++cells}`, 10 + cells),
    addOutside: () => attach(`o${++outsides}`, 99 + outsides),
    addContainer: () => addNamespace(`k${++containers}`),
    async exec(ns, argv, input) {
      return new Promise<string>((resolve, reject) => {
        const child = execFile("nsenter", [`--net=${ns.path}`, ...argv], { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`${argv.join(" ")} in ${ns.name}: ${stderr || err.message}`, { cause: err }));
          else resolve(stdout);
        });
        // A command that does not read its stdin may exit first; that EPIPE is not an error.
        child.stdin?.on("error", () => undefined);
        child.stdin?.end(input ?? "");
      });
    },
    spawn(ns, argv) {
      const child = spawn("nsenter", [`--net=${ns.path}`, ...argv], { stdio: ["pipe", "pipe", "pipe"], detached: true });
      children.add(child);
      child.on("exit", () => children.delete(child));
      child.on("error", () => children.delete(child));
      return child;
    },
    async destroy() {
      for (const child of children) {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      children.clear();
      // Anything else still running inside (a process the code under test started) goes too.
      for (const ns of namespaces) {
        const pids = await execFileP("ip", ["netns", "pids", ns.name]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => []);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      const errors: unknown[] = [];
      for (const ns of namespaces.reverse()) {
        await ip(["netns", "del", ns.name]).catch((err: unknown) => errors.push(err));
      }
      namespaces.length = 0;
      if (errors.length > 0) throw new AggregateError(errors, "netns cleanup failed");
    },
  };
  return fixture;
}
