// The Linux implementation of Kernel: the one place that spawns ip, bridge, nft, conntrack and
// sysctl. Each operation is one batch per tool (`ip -batch -`, `bridge -batch -`, one `nft -f -`
// transaction), run inside the given namespace through nsenter and serialised by one lock, so
// batches never interleave. Removals treat "already gone" as success.
import type { Logger } from "../../common/logger.js";
import { silentLogger } from "../../common/logger.js";
import { createCommandRunner, KernelCommandError, type CommandRunner } from "./command-runner.js";
import { deleteArgs, flowsToCut, parseConntrack } from "./conntrack.js";
import type {
  CellBaseSpec,
  ContainerVethSpec,
  FlowCut,
  Kernel,
  Netns,
  ObserveOptions,
  ObservedCell,
  RemoteLeaseRef,
  RemoteLeaseSpec,
  RuleDelta,
  VtepSpec,
} from "./kernel-types.js";
import { emptyFilter } from "./kernel-types.js";
import { IP_OBSERVE_BATCH, parseFdb, parseIpObservation } from "./link-observe.js";
import { GATEWAY_IP, NFT_TABLE, TAG_MAX, VTEP_NAME } from "./names.js";
import { parseNftTable } from "./nft-observe.js";
import { renderDelta } from "./nft-ruleset.js";
import { NftSession } from "./nft-session.js";
import { SerialLock } from "./serial-lock.js";

export interface LinuxKernelOptions {
  readonly runner?: CommandRunner;
  readonly logger?: Logger;
  /** Keep an `nft -i` per namespace for small transactions (default true). */
  readonly nftSessions?: boolean;
}

/** Bigger transactions (a first load of 50,000 elements) go through `nft -f -`. */
const SESSION_MAX_BYTES = 256 * 1024;

export interface LinuxKernel extends Kernel {
  /** Ends the long-lived nft processes. The kernel stays usable; sessions restart on demand. */
  close(): void;
}

const GONE = /Cannot find device|No such device|No such process|does not exist|No such file or directory|Cannot find/i;

function isGone(err: unknown): boolean {
  return err instanceof KernelCommandError && GONE.test(err.stderr);
}

export function createLinuxKernel(opts: LinuxKernelOptions = {}): LinuxKernel {
  const run = opts.runner ?? createCommandRunner();
  const log = opts.logger ?? silentLogger;
  const lock = new SerialLock();
  const sessions = new Map<Netns, NftSession>();
  const nftTransaction = async (netns: Netns, payload: string): Promise<void> => {
    if (opts.nftSessions === false || payload.length > SESSION_MAX_BYTES) {
      await run(netns, ["nft", "-f", "-"], payload);
      return;
    }
    let session = sessions.get(netns);
    if (!session?.alive) {
      session = new NftSession(netns);
      sessions.set(netns, session);
    }
    await session.run(payload);
  };
  const ipBatch = (netns: Netns, lines: readonly string[]) => run(netns, ["ip", "-batch", "-"], lines.join("\n") + "\n");
  const bridgeBatch = (netns: Netns, lines: readonly string[]) =>
    run(netns, ["bridge", "-batch", "-"], lines.join("\n") + "\n");
  const sysctl = (netns: Netns, settings: readonly string[]) => run(netns, ["sysctl", "-q", "-w", ...settings]);

  async function tolerateGone(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }

  return {
    close: () => {
      for (const s of sessions.values()) s.close();
      sessions.clear();
    },

    observe: (netns: Netns, o: ObserveOptions = {}) =>
      lock.run(async (): Promise<ObservedCell> => {
        const [ipOut, fdbOut, fwd, nft] = await Promise.all([
          run(netns, ["ip", "-j", "-d", "-batch", "-"], IP_OBSERVE_BATCH),
          run(netns, ["bridge", "-j", "fdb", "show"]),
          run(netns, ["sysctl", "-n", "net.ipv4.ip_forward"]),
          run(netns, ["nft", "-j", "list", "table", "inet", NFT_TABLE]).catch((err: unknown) => {
            if (isGone(err)) return undefined;
            throw err;
          }),
        ]);
        const links = parseIpObservation(ipOut.stdout, o.underlayDev);
        return {
          ipForward: fwd.stdout.trim() === "1",
          loopbackAddresses: links.loopbackAddresses,
          underlayMtu: links.underlayMtu,
          vtep: links.vtep,
          vtepRoutes: links.vtepRoutes,
          vtepNeighbours: links.vtepNeighbours,
          vtepFdb: links.vtep ? parseFdb(fdbOut.stdout) : new Map(),
          hostVeths: links.hostVeths,
          filter: nft ? parseNftTable(nft.stdout) : emptyFilter(),
        };
      }),

    ensureCellBase: (netns: Netns, spec: CellBaseSpec) =>
      lock.run(async () => {
        await sysctl(netns, ["net.ipv4.ip_forward=1"]);
        await ipBatch(netns, ["link set lo up", `addr replace ${spec.dnsIp}/32 dev lo`]);
        log.info({ netns }, "cell-base-ensured");
      }),

    ensureVtep: (netns: Netns, spec: VtepSpec, o: { readonly recreate?: boolean } = {}) =>
      lock.run(async () => {
        if (o.recreate) await tolerateGone(ipBatch(netns, [`link del ${VTEP_NAME}`]));
        const exists = o.recreate
          ? false
          : await run(netns, ["ip", "link", "show", "dev", VTEP_NAME]).then(
              () => true,
              (err: unknown) => {
                if (isGone(err)) return false;
                throw err;
              },
            );
        const lines = exists
          ? [`link set ${VTEP_NAME} mtu ${spec.mtu} address ${spec.mac}`]
          : [
              `link add ${VTEP_NAME} address ${spec.mac} mtu ${spec.mtu} type vxlan id ${spec.vni} dstport ${spec.port}` +
                ` local ${spec.underlayIp} dev ${spec.underlayDev} gbp nolearning`,
            ];
        await ipBatch(netns, [...lines, `addr replace ${spec.address}/32 dev ${VTEP_NAME}`, `link set ${VTEP_NAME} up`]);
        log.info({ netns, vtep: VTEP_NAME, created: !exists }, "vtep-ensured");
      }),

    deleteVtep: (netns: Netns) => lock.run(() => tolerateGone(ipBatch(netns, [`link del ${VTEP_NAME}`]))),

    setRemoteLease: (netns: Netns, l: RemoteLeaseSpec) =>
      lock.run(async () => {
        await bridgeBatch(netns, [`fdb replace ${l.mac} dev ${VTEP_NAME} dst ${l.underlayIp} self permanent`]);
        await ipBatch(netns, [
          `neigh replace ${l.vtepIp} lladdr ${l.mac} dev ${VTEP_NAME} nud permanent`,
          `route replace ${l.subnet} via ${l.vtepIp} dev ${VTEP_NAME} onlink src ${l.localVtepIp}`,
        ]);
        log.debug({ netns, subnet: l.subnet, underlay: l.underlayIp }, "remote-lease-set");
      }),

    removeRemoteLease: (netns: Netns, l: RemoteLeaseRef) =>
      lock.run(async () => {
        // Each removal is its own batch: a batch stops at its first error, and "already gone"
        // must not keep the later objects in place.
        if (l.subnet) await tolerateGone(ipBatch(netns, [`route del ${l.subnet} dev ${VTEP_NAME}`]));
        if (l.vtepIp) await tolerateGone(ipBatch(netns, [`neigh del ${l.vtepIp} dev ${VTEP_NAME}`]));
        if (l.mac) await tolerateGone(bridgeBatch(netns, [`fdb del ${l.mac} dev ${VTEP_NAME} self`]));
        log.debug({ netns, subnet: l.subnet }, "remote-lease-removed");
      }),

    createContainerVeth: (netns: Netns, s: ContainerVethSpec) =>
      lock.run(async () => {
        await ipBatch(netns, [
          `link add ${s.hostIf} address ${s.hostMac} mtu ${s.mtu} type veth` +
            ` peer name ${s.ifName} address ${s.containerMac} mtu ${s.mtu} netns ${s.netns}`,
        ]);
        try {
          // The two ends live in different namespaces and need only the pair: configured at once
          // (each is a process start; this is on the CNI ADD's critical path).
          const ends = await Promise.allSettled([
            configureHostSide(netns, s),
            ipBatch(s.netns, [
              "link set lo up",
              `addr replace ${s.ip}/32 peer ${GATEWAY_IP}/32 dev ${s.ifName}`,
              `link set ${s.ifName} up`,
              `neigh replace ${GATEWAY_IP} lladdr ${s.hostMac} dev ${s.ifName} nud permanent`,
              `route replace default via ${GATEWAY_IP} dev ${s.ifName} src ${s.ip}`,
            ]),
          ]);
          for (const end of ends) if (end.status === "rejected") throw end.reason;
        } catch (err) {
          // Undo the pair so a failed create leaves nothing behind; keep the original error.
          await tolerateGone(ipBatch(netns, [`link del ${s.hostIf}`])).catch((undoErr: unknown) => {
            log.warn({ err: undoErr, hostIf: s.hostIf }, "veth-undo-failed");
          });
          throw err;
        }
        log.info({ netns, hostIf: s.hostIf, ip: s.ip }, "container-veth-created");
      }),

    repairContainerHost: (netns: Netns, s: ContainerVethSpec) => lock.run(() => configureHostSide(netns, s)),

    deleteContainerVeth: (netns: Netns, hostIf: string) =>
      lock.run(async () => {
        await tolerateGone(ipBatch(netns, [`link del ${hostIf}`]));
        log.info({ netns, hostIf }, "container-veth-deleted");
      }),

    applyRuleDelta: (netns: Netns, delta: RuleDelta) =>
      lock.run(async () => {
        const payload = renderDelta(delta);
        if (payload === "") return;
        await nftTransaction(netns, payload);
        log.debug({ netns, lines: payload.split("\n").length - 1 }, "rules-applied");
      }),

    flushConntrack: (netns: Netns, cuts: readonly FlowCut[]) =>
      lock.run(async () => {
        let deleted = 0;
        // A single-port cut is one filtered delete; ranges need a listing filtered here, since
        // conntrack's --dport takes one port.
        const single = cuts.filter((c) => c.ranges.length === 1 && c.ranges[0]?.start === c.ranges[0]?.end);
        for (const c of single) {
          const out = await run(netns, [
            "conntrack", "-D", "-f", "ipv4", "-p", c.protocol, "-d", c.ip, "--dport", String(c.ranges[0]?.start), "-m", `${c.tag}/${TAG_MAX}`,
          ]).catch((err: unknown) => {
            // Exit 1 with "0 flow entries" is what conntrack says when nothing matched.
            if (err instanceof KernelCommandError && /\b0 flow entries/.test(err.stderr)) return { stdout: "", stderr: err.stderr };
            throw err;
          });
          deleted += Number(/(\d+) flow entries/.exec(out.stderr)?.[1] ?? 0);
        }
        const ranged = cuts.filter((c) => !single.includes(c));
        for (const tag of new Set(ranged.map((c) => c.tag))) {
          const listed = await run(netns, ["conntrack", "-L", "-f", "ipv4", "-m", `${tag}/${TAG_MAX}`]);
          for (const flow of flowsToCut(parseConntrack(listed.stdout), ranged)) {
            // A flow that ended meanwhile is fine: the goal is that it is gone.
            await run(netns, deleteArgs(flow)).then(
              () => (deleted += 1),
              (err: unknown) => log.debug({ err, flow }, "conntrack-delete-missed"),
            );
          }
        }
        if (deleted > 0) log.info({ netns, deleted }, "conntrack-flows-cut");
        return deleted;
      }),
  };

  async function configureHostSide(netns: Netns, s: ContainerVethSpec): Promise<void> {
    // Both need only the link; run at once (two process starts, on the CNI ADD's critical path).
    const steps = await Promise.allSettled([
      ipBatch(netns, [
        `addr replace ${GATEWAY_IP}/32 peer ${s.ip}/32 dev ${s.hostIf}`,
        `link set ${s.hostIf} up`,
        `neigh replace ${s.ip} lladdr ${s.containerMac} dev ${s.hostIf} nud permanent`,
      ]),
      // Strict reverse-path filtering: a container cannot send with another container's address.
      sysctl(netns, [`net.ipv4.conf.${s.hostIf}.rp_filter=1`]),
    ]);
    for (const step of steps) if (step.status === "rejected") throw step.reason;
  }
}
