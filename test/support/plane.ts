// Helpers for control-plane stream tests: join tokens and simulated cells joined to a test control.
import type { TestControl } from "./control.js";
import { SimAgent } from "./sim-agent.js";

export async function joinToken(api: TestControl, cellId?: string): Promise<string> {
  const res = await api.request("POST", "/weft/v1/join-tokens", { body: cellId ? { cell_id: cellId } : {} });
  if (res.status !== 201) throw new Error(`join token: ${res.status} ${res.text}`);
  return (res.json as { token: string }).token;
}

export async function joinSimAgent(api: TestControl, cellId: string, underlayIp: string, grpcEndpoint?: string): Promise<SimAgent> {
  return SimAgent.join({
    apiUrl: api.baseUrl,
    apiCaPem: api.control.caCertPem,
    token: await joinToken(api),
    cellId,
    underlayIp,
    ...(grpcEndpoint ? { grpcEndpoint } : {}),
  });
}

export const instance = (guid: string, app: string, ip: string, index = 0) => ({
  instanceGuid: guid,
  appGuid: app,
  spaceGuid: "space-1",
  orgGuid: "org-1",
  index,
  overlayIp: ip,
  ports: [8080],
  lifecycle: "running",
  cellId: "",
});

export const v1Policy = (src: string, dst: string, start = 8080, end = start, protocol = "tcp") => ({
  source: { id: src },
  destination: { id: dst, protocol, ports: { start, end } },
});

// The agent-side client, for control tests that act as a cell (tests may cross the parts; the
// parts themselves talk only over proto/).
export { ControlClient } from "../../cni/control-link/control-client.js";
export { joinCell } from "../../cni/control-link/join.js";
