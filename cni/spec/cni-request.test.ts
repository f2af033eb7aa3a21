// CNI request parsing: each bad input gets the spec's error code and a message naming the field.
import { describe, expect, it } from "vitest";
import { CNI_CODES, CniError } from "./cni-error.js";
import { parseCniRequest, type CniEnv } from "./cni-request.js";

const env = (over: Partial<CniEnv> = {}): CniEnv => ({ command: "ADD", containerId: "c1", netns: "/var/run/netns/x", ifname: "eth0", args: "", path: "/opt/cni/bin", ...over });
const meta = { app_id: "app-1", space_id: "s-1", org_id: "o-1", instance_index: 2, ports: [8080, 9090] };
const conf = (over: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", runtimeConfig: { metadata: meta }, ...over });

function codeOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err.code;
    throw err;
  }
  throw new Error("expected a CniError");
}

describe("parseCniRequest", () => {
  it("parses an ADD with runtimeConfig metadata and port mappings", () => {
    const req = parseCniRequest(env(), conf({ runtimeConfig: { metadata: meta, portMappings: [{ hostPort: 61001, containerPort: 8080, protocol: "tcp" }] } }));
    expect(req.command).toBe("ADD");
    if (req.command !== "ADD") return;
    expect(req.config.metadata).toEqual({ appGuid: "app-1", appName: "", spaceGuid: "s-1", orgGuid: "o-1", instanceGuid: "c1", instanceIndex: 2, ports: [8080, 9090], lifecycle: "running" });
    expect(req.config.portMappings).toEqual([{ hostPort: 61001, containerPort: 8080, protocol: "tcp" }]);
  });

  it("takes metadata from args.cni and from CNI_ARGS", () => {
    const a = parseCniRequest(env(), JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "weft", args: { cni: meta } }));
    expect(a.command === "ADD" && a.config.metadata?.appGuid).toBe("app-1");
    const b = parseCniRequest(env({ args: "IgnoreUnknown=1;WEFT_APP_ID=a2;WEFT_SPACE_ID=s;WEFT_ORG_ID=o;WEFT_INSTANCE_INDEX=3;WEFT_PORTS=8080,8081" }), JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "weft" }));
    expect(b.command === "ADD" && b.config.metadata).toMatchObject({ appGuid: "a2", instanceIndex: 3, ports: [8080, 8081] });
  });

  it("answers VERSION even without a configuration", () => {
    expect(parseCniRequest(env({ command: "VERSION" }), "")).toEqual({ command: "VERSION", cniVersion: "1.1.0" });
  });

  it("maps each problem to the spec's code", () => {
    expect(codeOf(() => parseCniRequest(env({ command: "FOO" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env({ containerId: "" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env({ containerId: "../etc" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env({ ifname: "a-very-long-interface" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env({ netns: "relative" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env({ args: "novalue" }), conf()))).toBe(CNI_CODES.INVALID_ENVIRONMENT);
    expect(codeOf(() => parseCniRequest(env(), "{not json"))).toBe(CNI_CODES.DECODE_FAILED);
    expect(codeOf(() => parseCniRequest(env(), "[]"))).toBe(CNI_CODES.DECODE_FAILED);
    expect(codeOf(() => parseCniRequest(env(), conf({ cniVersion: "2.0.0" })))).toBe(CNI_CODES.INCOMPATIBLE_VERSION);
    expect(codeOf(() => parseCniRequest(env(), conf({ cniVersion: undefined })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ name: "" })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ type: "bridge" })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ ipam: { type: "host-local" } })))).toBe(CNI_CODES.UNSUPPORTED_FIELD);
    expect(codeOf(() => parseCniRequest(env(), conf({ mtu: 10 })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ runtimeConfig: {} })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ runtimeConfig: { metadata: { ...meta, ports: [61443] } } })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ runtimeConfig: { metadata: { ...meta, app_id: "a\u0000b" } } })))).toBe(CNI_CODES.INVALID_NETWORK_CONFIG);
    expect(codeOf(() => parseCniRequest(env(), conf({ runtimeConfig: { metadata: meta, portMappings: [{ hostPort: 0, containerPort: 1 }] } })))).toBe(
      CNI_CODES.INVALID_NETWORK_CONFIG,
    );
  });

  it("lets DEL through without netns or metadata", () => {
    const req = parseCniRequest(env({ command: "DEL", netns: "" }), JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "weft" }));
    expect(req.command).toBe("DEL");
  });

  it("parses GC's valid attachments", () => {
    const req = parseCniRequest(env({ command: "GC" }), JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "weft", "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }] }));
    expect(req.command === "GC" && req.config.validAttachments).toEqual([{ containerId: "c1", ifname: "eth0" }]);
  });
});
