// Black-box CLI against a control plane with a streaming cell: `policy add --wait` returns once
// the cell enforces the policy (and names the lagging cell on timeout), `status` shows the cell,
// `token create --join` mints a usable join token, and `route map` maps internal routes.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../common/package-root.js";
import { startTestControl, type TestControl } from "./support/control.js";
import { instance, joinSimAgent } from "./support/plane.js";
import { SimAgent } from "./support/sim-agent.js";

const run = promisify(execFile);
const WEFT = join(packageRoot(), "bin", "weft.js");

describe("CLI with a streaming cell", () => {
  let api: TestControl;
  let agent: SimAgent;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    api = await startTestControl("postgres");
    env = { ...process.env, WEFT_API: api.baseUrl, WEFT_DATA_DIR: api.dataDir };
    agent = await joinSimAgent(api, "cell-1", "10.0.0.1");
    const subnet = (await agent.client.acquireLease("10.0.0.1")).overlaySubnet;
    await api.request("PUT", "/weft/v1/apps/g-front", { body: { name: "front", space_guid: "s", org_guid: "o" } });
    await api.request("PUT", "/weft/v1/apps/g-back", { body: { name: "back", space_guid: "s", org_guid: "o" } });
    await agent.client.registerInstance(instance("f-0", "g-front", subnet.replace(/\.0\/24$/, ".2")));
    agent.startSync();
  });

  afterAll(async () => {
    agent?.close();
    await api?.stop();
  });

  const weft = (...args: string[]) => run(process.execPath, [WEFT, ...args], { env });

  it("policy add --wait returns once the cell enforces it", async () => {
    const out = await weft("policy", "add", "front", "--destination-app", "back", "--port", "9000", "--protocol", "tcp", "--wait");
    expect(out.stdout).toMatch(/Enforced on every connected cell \(revision \d+\)/);
    expect(out.stderr).toMatch(/enforced on 1\/1 cells/);
    expect([...agent.policies.keys()]).toContain("g-front|g-back|tcp|9000|9000");
  });

  it("policy add --wait names the lagging cell on timeout", async () => {
    const next = (await api.control.store.revision()) + 1;
    agent.failRevisions.add(next);
    const err = await weft("policy", "add", "front", "--destination-app", "back", "--port", "9001", "--protocol", "tcp", "--wait", "--timeout", "2s").then(
      () => undefined,
      (e: { stderr: string; code: number }) => e,
    );
    agent.failRevisions.clear();
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/timed out after 2s waiting for revision \d+; lagging: cell-1 \(enforces \d+, last nack at \d+: simulated failure/);
  });

  it("status lists the cell with its enforced revision", async () => {
    const out = await weft("status");
    expect(out.stdout).toMatch(/^revision \d+/);
    expect(out.stdout).toMatch(/cell-1\s+10\.0\.0\.1\s+yes\s+\d+/);
  });

  it("token create --join mints a one-time join token a cell can use", async () => {
    const token = (await weft("token", "create", "--join", "--cell", "cell-2")).stdout.trim();
    const cell2 = await SimAgent.join({ apiUrl: api.baseUrl, apiCaPem: api.control.caCertPem, token, cellId: "cell-2", underlayIp: "10.0.0.2" });
    expect(cell2.cellId).toBe("cell-2");
    cell2.close();
  });

  it("route map and list", async () => {
    await weft("route", "map", "back", "Back.Apps.Internal");
    expect((await weft("route", "list")).stdout).toMatch(/back\.apps\.internal\s+back/);
  });
});
