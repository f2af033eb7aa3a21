// The CNI commands as the agent runs them. ADD is ready-gated: it returns only when the container
// has its address, interface and routes, is registered with control, its policy rules are enforced
// (the revision control returned for the registration is applied to the kernel), and its
// certificate is issued and handed to the sidecar. Any failure undoes every earlier step. DEL is
// idempotent and succeeds with control down (the deregistration is retried later); GC removes what
// belongs to containers the runtime no longer lists.
import { generateKeyAndCsr } from "../../common/csr.js";
import { errorMessage, isWeftError } from "../../common/errors.js";
import { removeSidecarContainer, waitSidecarServing, writeSidecarContainer } from "../../common/sidecar-contract.js";
import { DNS_IP, GATEWAY_IP, containerMac, hostVethMac, hostVethName } from "../kernel/names.js";
import { CNI_CODES, CniError } from "../spec/cni-error.js";
import type { CniRequest } from "../spec/cni-request.js";
import { SUPPORTED_VERSIONS } from "../spec/cni-request.js";
import { addResult, versionResult } from "../spec/cni-result.js";
import type { CellAgent } from "./cell-agent.js";
import { UndoStack } from "./undo-stack.js";

export async function handleCni(agent: CellAgent, req: CniRequest): Promise<Record<string, unknown> | null> {
  switch (req.command) {
    case "VERSION":
      return versionResult(req.cniVersion, SUPPORTED_VERSIONS);
    case "STATUS": {
      const problem = agent.readiness();
      if (problem) throw new CniError(CNI_CODES.PLUGIN_NOT_AVAILABLE, "weft agent is not ready", problem);
      return null;
    }
    case "ADD":
      // Without a lease there is no address to give: say why (control away, the pool exhausted).
      if (!agent.hasLease) throw new CniError(CNI_CODES.TRY_AGAIN_LATER, "weft agent has no overlay lease yet, try again later", agent.readiness());
      return add(agent, req);
    case "DEL":
      await agent.removeContainer(req.containerId, req.ifname);
      return null;
    case "CHECK": {
      const rec = agent.containers.get(req.containerId, req.ifname);
      if (!rec) throw new CniError(CNI_CODES.UNKNOWN_CONTAINER, `container ${req.containerId} is not attached to this network`);
      await agent.checkContainer(rec);
      return null;
    }
    case "GC": {
      const valid = new Set((req.config.validAttachments ?? []).map((a) => `${a.containerId}@${a.ifname}`));
      for (const rec of agent.containers.all()) {
        if (!valid.has(`${rec.containerId}@${rec.ifname}`)) await agent.removeContainer(rec.containerId, rec.ifname);
      }
      agent.releaseOrphanAddresses();
      return null;
    }
  }
}

function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (isWeftError(err, "STORE_UNAVAILABLE")) return new CniError(CNI_CODES.TRY_AGAIN_LATER, "control plane unavailable, try again later", errorMessage(err));
  if (isWeftError(err, "CONFLICT") && /no free address/.test(errorMessage(err))) return new CniError(CNI_CODES.ADDRESS_EXHAUSTED, errorMessage(err));
  if (isWeftError(err)) return new CniError(CNI_CODES.CONTROL_PLANE, errorMessage(err));
  return new CniError(CNI_CODES.IO_FAILURE, errorMessage(err));
}

async function add(agent: CellAgent, req: Extract<CniRequest, { command: "ADD" | "CHECK" }>): Promise<Record<string, unknown>> {
  const meta = req.config.metadata!;
  const cniVersion = req.config.cniVersion;
  const result = (ip: string) =>
    addResult({
      cniVersion,
      hostIfname: hostVethName(ip),
      hostMac: hostVethMac(ip),
      ifname: req.ifname,
      mac: containerMac(ip),
      netns: req.netns,
      ip,
      gateway: GATEWAY_IP,
      nameservers: [DNS_IP],
      searchDomains: agent.config.searchDomains,
    });
  const existing = agent.containers.get(req.containerId, req.ifname);
  if (existing && existing.netns === req.netns) return result(existing.ip);

  const undo = new UndoStack();
  try {
    const ip = agent.ipam().allocate(req.containerId, req.ifname);
    undo.push("release address", () => void agent.ipam().release(req.containerId, req.ifname));
    // Recorded before any await, so a concurrent GC sees the address as owned, never as an orphan.
    const rec = {
      containerId: req.containerId,
      ifname: req.ifname,
      netns: req.netns,
      ip,
      metadata: meta,
      portMappings: req.config.portMappings,
      registeredRevision: 0,
    };
    agent.containers.put(rec);
    undo.push("forget container", async () => {
      agent.containers.remove(req.containerId, req.ifname);
      await agent.reconcile(false);
    });
    // The interface needs nothing from control, so the kernel wires it while control registers the
    // container. Until its app's tag arrives the container is untagged: kept out of the overlay,
    // and its ingress still rejects by default (the ADD has not returned, so nothing runs in it).
    // Once registered, the two ready gates run concurrently: (1) the revision that registered the
    // container (and so brings its app's tag and policies to this cell) is enforced in the kernel;
    // (2) its certificate, from a key made here, is signed by control (then served by the sidecar).
    const registering = agent.client().registerInstance(
      {
        instanceGuid: meta.instanceGuid,
        appGuid: meta.appGuid,
        spaceGuid: meta.spaceGuid,
        orgGuid: meta.orgGuid,
        index: meta.instanceIndex,
        overlayIp: ip,
        ports: [...meta.ports],
        lifecycle: meta.lifecycle,
        cellId: "",
      },
      meta.appName,
    );
    const issuing = registering.then(async () => {
      const { privateKeyPem, csrPem } = await generateKeyAndCsr({ commonName: meta.instanceGuid });
      return { privateKeyPem, cert: await agent.client().signInstanceCertificate(meta.instanceGuid, csrPem) };
    });
    const enforcing = registering.then(async (registered) => {
      agent.containers.put({ ...rec, registeredRevision: registered.revision });
      await agent.waitEnforced(registered.revision, agent.config.addTimeoutMs);
    });
    const [registration, wiring, enforced, issued] = await Promise.allSettled([registering, agent.reconcile(false), enforcing, issuing]);
    if (registration.status === "rejected") throw registration.reason;
    undo.push("deregister", () => agent.client().deregisterInstance(meta.instanceGuid).then(() => undefined));
    if (wiring.status === "rejected") throw wiring.reason;
    if (enforced.status === "rejected") throw enforced.reason;
    if (issued.status === "rejected") throw issued.reason;
    const { privateKeyPem, cert } = issued.value;
    if (agent.config.sidecarDir) {
      const dir = agent.config.sidecarDir;
      const generation = await writeSidecarContainer(dir, {
        instanceGuid: meta.instanceGuid,
        netnsPath: req.netns,
        containerIp: ip,
        credentials: { keyPem: privateKeyPem, certificateChainPem: cert.certificatePem, caBundlePem: cert.caBundlePem },
      });
      undo.push("remove sidecar listener", () => removeSidecarContainer(dir, meta.instanceGuid));
      if (agent.config.waitForSidecar) await waitSidecarServing(dir, meta.instanceGuid, generation, { timeoutMs: agent.config.addTimeoutMs });
    }
    agent.rememberKey(meta.instanceGuid, privateKeyPem);
    return result(ip);
  } catch (err) {
    const undoFailures = await undo.unwind();
    const cni = toCniError(err);
    const details = [cni.details, ...undoFailures.map((f) => `undo failed: ${f}`)].filter(Boolean).join("; ");
    throw new CniError(cni.code, cni.message, details, { cause: err });
  }
}
