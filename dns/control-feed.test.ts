// weft dns fed by the real control plane: the registry stream over mutual TLS with the cell's
// credentials, answering dig with real packets; scaling shows up in answers; and when control goes
// away the server keeps answering what it had (fail static).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveCellCredentials } from "../common/cell-credentials.js";
import { eventually } from "../common/eventually.js";
import { startTestControl, type TestControl } from "../test/support/control.js";
import { instance, joinSimAgent } from "../test/support/plane.js";
import type { SimAgent } from "../test/support/sim-agent.js";
import type { RunningDns } from "./main.js";
import { dig } from "./test-support/dig.js";
import { startTestDns } from "./test-support/start-dns.js";

describe("dns fed by control", () => {
  let api: TestControl;
  let cell: SimAgent;
  let dns: RunningDns;
  let dir: string;
  let ip = (_n: number) => "";

  beforeAll(async () => {
    api = await startTestControl("postgres");
    cell = await joinSimAgent(api, "cell-1", "10.0.0.1");
    dir = mkdtempSync(join(tmpdir(), "weft-cell-"));
    saveCellCredentials(dir, cell.creds);
    const subnet = (await cell.client.acquireLease("10.0.0.1")).overlaySubnet;
    ip = (n) => subnet.replace(/\.0\/24$/, `.${n}`);
    await api.request("PUT", "/weft/v1/apps/app-b", { body: { name: "backend", space_guid: "s", org_guid: "o" } });
    await api.request("PUT", "/weft/v1/routes/backend.apps.internal", { body: { app_guid: "app-b" } });
    await cell.client.registerInstance(instance("b-0", "app-b", ip(10), 0));
    dns = await startTestDns({ cellCredentialsDir: dir });
  });

  afterAll(async () => {
    await dns?.stop();
    cell?.close();
    await api?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers from control's registry and follows scaling", async () => {
    await eventually(async () => expect((await dig(dns.udpPort, ["backend.apps.internal", "A"])).addresses).toEqual([ip(10)]));
    await cell.client.registerInstance(instance("b-1", "app-b", ip(11), 1));
    await eventually(async () => expect([...(await dig(dns.udpPort, ["BACKEND.apps.internal", "A"])).addresses].sort()).toEqual([ip(10), ip(11)]));
    expect((await dig(dns.udpPort, ["1.backend.apps.internal", "A"])).addresses).toEqual([ip(11)]);
    await cell.client.deregisterInstance("b-1");
    await eventually(async () => expect((await dig(dns.udpPort, ["backend.apps.internal", "A"])).addresses).toEqual([ip(10)]));
  });

  it("keeps answering when control goes away", async () => {
    await api.control.stop();
    const res = await dig(dns.udpPort, ["backend.apps.internal", "A"]);
    expect(res.status).toBe("NOERROR");
    expect(res.addresses).toEqual([ip(10)]);
  });
});
