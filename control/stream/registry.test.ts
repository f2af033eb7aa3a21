// The registry stream DNS servers consume: a snapshot of routes -> live instances, then deltas as
// instances register and deregister and routes are mapped and unmapped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { eventually } from "../../common/eventually.js";
import type { RegistryUpdate } from "../../proto/types.js";
import { startTestControl, type TestControl } from "../../test/support/control.js";
import { instance, joinSimAgent } from "../../test/support/plane.js";
import type { SimAgent } from "../../test/support/sim-agent.js";

describe("registry stream", () => {
  let api: TestControl;
  let cell: SimAgent;
  let watch: ClientReadableStream<RegistryUpdate>;
  const updates: RegistryUpdate[] = [];
  const view = new Map<string, string[]>();
  let ip = (_n: number) => "";

  beforeAll(async () => {
    api = await startTestControl("postgres");
    cell = await joinSimAgent(api, "cell-1", "10.0.0.1");
    const subnet = (await cell.client.acquireLease("10.0.0.1")).overlaySubnet;
    ip = (n) => subnet.replace(/\.0\/24$/, `.${n}`);
    await api.request("PUT", "/weft/v1/apps/app-b", { body: { name: "backend", space_guid: "s", org_guid: "o" } });
    await api.request("PUT", "/weft/v1/routes/Backend.apps.internal", { body: { app_guid: "app-b" } });
    await cell.client.registerInstance(instance("b-0", "app-b", ip(10), 0));
    await api.control.plane.feed.waitFor(await api.control.store.revision());
    watch = cell.client.registry.Watch({ revision: 0 });
    watch.on("data", (u: RegistryUpdate) => {
      updates.push(u);
      if (u.snapshot) view.clear();
      for (const h of u.removedHosts) view.delete(h);
      for (const r of u.routes) view.set(r.host, r.instances.map((i) => `${i.index}=${i.ip}`));
    });
    watch.on("error", () => undefined);
  });

  afterAll(async () => {
    watch?.cancel();
    cell?.close();
    await api?.stop();
  });

  it("starts with a snapshot of every route and its instances", async () => {
    await eventually(() => expect(updates[0]?.snapshot).toBe(true));
    expect(view.get("backend.apps.internal")).toEqual([`0=${ip(10)}`]);
  });

  it("sends deltas on scale up and down, and on route removal", async () => {
    await cell.client.registerInstance(instance("b-1", "app-b", ip(11), 1));
    await cell.client.registerInstance(instance("b-2", "app-b", ip(12), 2));
    await eventually(() => expect(view.get("backend.apps.internal")).toEqual([`0=${ip(10)}`, `1=${ip(11)}`, `2=${ip(12)}`]));
    await cell.client.deregisterInstance("b-1");
    await cell.client.deregisterInstance("b-2");
    await eventually(() => expect(view.get("backend.apps.internal")).toEqual([`0=${ip(10)}`]));
    expect(updates.slice(1).every((u) => !u.snapshot)).toBe(true);
    await api.request("DELETE", "/weft/v1/routes/backend.apps.internal");
    await eventually(() => expect(view.has("backend.apps.internal")).toBe(false));
  });
});
