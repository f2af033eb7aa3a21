// An agent that cannot get a lease (here: control says the overlay's pool is exhausted) keeps
// trying, and meanwhile a runtime's ADD gets "try again later" with the reason, not a bare failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WeftError } from "../../common/errors.js";
import { eventually } from "../../common/eventually.js";
import { silentLogger } from "../../common/logger.js";
import type { ControlClient } from "../control-link/control-client.js";
import { createFakeKernel } from "../kernel/fake-kernel.js";
import { parseCniRequest } from "../spec/cni-request.js";
import { CNI_CODES, CniError } from "../spec/cni-error.js";
import { AGENT_DEFAULTS } from "./agent-config.js";
import { CellAgent } from "./cell-agent.js";
import { handleCni } from "./cni-handlers.js";

describe("an agent without a lease", () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const f of cleanup.splice(0)) f();
  });

  it("answers ADD with try-again-later naming why, and STATUS as not ready", async () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-nolease-"));
    const exhausted = new WeftError("CONFLICT", "no free overlay subnet: all 1 /24 blocks of 10.255.0.0/24 are leased");
    let attempts = 0;
    const client = { acquireLease: () => (attempts++, Promise.reject(exhausted)) } as unknown as ControlClient;
    const config = {
      ...AGENT_DEFAULTS,
      cellId: "cell-x",
      underlayIp: "10.0.0.9",
      underlayDev: "eth0",
      netns: "/proc/self/ns/net",
      stateDir: dir,
      waitForSidecar: false,
      opsListen: { host: "127.0.0.1", port: 0 },
    };
    const agent = new CellAgent(config, client, createFakeKernel(), silentLogger);
    const abort = new AbortController();
    const started = agent.start(abort.signal).catch(() => undefined);
    cleanup.push(() => {
      abort.abort();
      agent.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await eventually(() => expect(agent.readiness()).toMatch(/no free overlay subnet/));

    const add = parseCniRequest(
      { command: "ADD", containerId: "c1", netns: "/var/run/netns/x", ifname: "eth0", args: "", path: "/opt/cni/bin" },
      JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", runtimeConfig: { metadata: { app_id: "a", space_id: "s", org_id: "o", instance_index: 0, ports: [8080] } } }),
    );
    const err = await handleCni(agent, add).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(CNI_CODES.TRY_AGAIN_LATER);
    expect(JSON.stringify(err)).toMatch(/no free overlay subnet/);
    const status = parseCniRequest({ command: "STATUS", containerId: "", netns: "", ifname: "", args: "", path: "" }, JSON.stringify({ cniVersion: "1.1.0", name: "weft", type: "weft" }));
    await expect(handleCni(agent, status)).rejects.toMatchObject({ code: CNI_CODES.PLUGIN_NOT_AVAILABLE });
    expect(attempts).toBeGreaterThan(0);
    abort.abort();
    void started;
  });
});
