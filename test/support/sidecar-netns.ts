// Container namespaces wired to a cell namespace the way the data plane does it (a veth pair, the
// container's /32 address, 169.254.0.1 as its point-to-point gateway), for the sidecar's namespace
// tests. Built on the shared netns fixture, so every namespace is the fixture's (named wt...) and
// goes with its destroy(); nothing is done in the machine's own namespace.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { Namespace, NetnsFixture } from "./netns-fixture.js";

const execFileP = promisify(execFile);
const ip = (args: readonly string[]) => execFileP("ip", [...args]);

export interface WiredContainer extends Namespace {
  /** The container's overlay address. */
  readonly ip: string;
}

/** Lets the cell route between its containers (a sysctl of the cell's namespace only). */
export async function enableForwarding(fx: NetnsFixture, cell: Namespace): Promise<void> {
  await fx.exec(cell, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
}

/** A new container namespace with eth0 = 10.255.7.<n>/32, its peer in the cell. */
export async function addWiredContainer(fx: NetnsFixture, cell: Namespace, n: number): Promise<WiredContainer> {
  const ns = await fx.addContainer();
  const addr = `10.255.7.${n}`;
  const peer = `wk${n}`;
  await ip(["-n", ns.name, "link", "add", "eth0", "type", "veth", "peer", "name", peer, "netns", cell.name]);
  await ip(["-n", ns.name, "addr", "add", `${addr}/32`, "dev", "eth0"]);
  await ip(["-n", ns.name, "link", "set", "eth0", "up"]);
  await ip(["-n", ns.name, "route", "add", "169.254.0.1", "dev", "eth0", "scope", "link"]);
  await ip(["-n", ns.name, "route", "add", "default", "via", "169.254.0.1", "dev", "eth0"]);
  await ip(["-n", cell.name, "addr", "add", "169.254.0.1/32", "dev", peer]);
  await ip(["-n", cell.name, "link", "set", peer, "up"]);
  await ip(["-n", cell.name, "route", "add", `${addr}/32`, "dev", peer]);
  return { ...ns, ip: addr };
}

/** TCP listeners in a namespace (`ss -ltn`), as "address:port" strings. */
export async function listeners(fx: NetnsFixture, ns: Namespace): Promise<string[]> {
  const out = await fx.exec(ns, ["ss", "-Hltn"]);
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[3])
    .filter((a): a is string => a !== undefined && a !== "");
}
