// CF-compatible policy bodies, v1 (`ports: {start, end}`) and v0 (single `port`). Decoding follows
// Go's encoding/json as CF's policy server sees it (unknown fields ignored, null is the zero
// value, a wrong JSON type is an unmarshal error), then validation runs in CF's order and the first
// failure wins, with CF's exact messages.
import type { Policy, Protocol } from "../domain/types.js";
import { HttpError } from "./http-error.js";

export type ApiVersion = "v0" | "v1";
export const UNMARSHAL_PREFIX = "mapper: unmarshal json: ";
const VALIDATE_PREFIX = "mapper: validate policies: ";

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : typeof v === "boolean" ? "bool" : typeof v;
}

function unmarshalError(v: unknown, path: string, type: string): HttpError {
  const what = typeof v === "number" ? `number ${v}` : jsonType(v);
  return new HttpError(400, `${UNMARSHAL_PREFIX}cannot unmarshal ${what} into field ${path} of type ${type}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw unmarshalError(v, path, "object");
  return v as Record<string, unknown>;
}

function str(v: unknown, path: string): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "string") throw unmarshalError(v, path, "string");
  return v;
}

function int(v: unknown, path: string): number {
  if (v === null || v === undefined) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw unmarshalError(v, path, "integer");
  return v;
}

interface RawPolicy {
  sourceId: string;
  sourceTag: string;
  destId: string;
  destTag: string;
  protocol: string;
  start: number;
  end: number;
  /** v0 only. */
  port: number;
}

function decode(body: unknown, version: ApiVersion): RawPolicy[] {
  const root = obj(body, "(root)");
  const list = root.policies;
  if (list === null || list === undefined) return [];
  if (!Array.isArray(list)) throw unmarshalError(list, "policies", "array");
  return list.map((item: unknown, i) => {
    const p = obj(item, `policies[${i}]`);
    const src = obj(p.source, `policies[${i}].source`);
    const dst = obj(p.destination, `policies[${i}].destination`);
    const at = `policies[${i}].destination`;
    const ports = version === "v1" ? obj(dst.ports, `${at}.ports`) : {};
    return {
      sourceId: str(src.id, `policies[${i}].source.id`),
      sourceTag: str(src.tag, `policies[${i}].source.tag`),
      destId: str(dst.id, `${at}.id`),
      destTag: str(dst.tag, `${at}.tag`),
      protocol: str(dst.protocol, `${at}.protocol`),
      start: version === "v1" ? int(ports.start, `${at}.ports.start`) : 0,
      end: version === "v1" ? int(ports.end, `${at}.ports.end`) : 0,
      port: version === "v0" ? int(dst.port, `${at}.port`) : 0,
    };
  });
}

export const ID_RULE = "must be 1-255 characters without control characters";

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
// In u-mode a paired surrogate is one code point, so this matches only unpaired ones. JSON allows
// "\ud800", but PostgreSQL rejects it in jsonb and cannot store it as text.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

export function isStorableId(id: string): boolean {
  return id.length > 0 && id.length <= 255 && !CONTROL_CHARS.test(id) && !LONE_SURROGATE.test(id);
}

function validateOne(p: RawPolicy, version: ApiVersion): string | undefined {
  if (p.sourceId === "") return "missing source id";
  if (p.destId === "") return "missing destination id";
  // Not in CF's validator, but ids must fit the store's index and text type.
  if (!isStorableId(p.sourceId)) return `invalid source id, ${ID_RULE}`;
  if (!isStorableId(p.destId)) return `invalid destination id, ${ID_RULE}`;
  if (p.protocol !== "tcp" && p.protocol !== "udp") return "invalid destination protocol, specify either udp or tcp";
  if (version === "v0") {
    if (p.port === 0) return "missing port";
    if (p.port < 0) return `invalid port ${p.port}, must be in range 1-65535`;
    // CF's v0 validator has no upper bound; the store does, so we keep it honest here.
    if (p.port > 65535) return `invalid port ${p.port}, must be in range 1-65535`;
  } else {
    if (p.start > p.end) return `invalid port range ${p.start}-${p.end}, start must be less than or equal to end`;
    if (p.start < 0) return `invalid start port ${p.start}, must be in range 1-65535`;
    if (p.start === 0) return "missing start port";
    if (p.end > 65535) return `invalid end port ${p.end}, must be in range 1-65535`;
  }
  if (p.sourceTag !== "" || p.destTag !== "") return "tags may not be specified";
  return undefined;
}

/** Decodes and validates a create/delete body; throws HttpError 400 with CF's messages. */
export function parsePolicies(body: unknown, version: ApiVersion): Policy[] {
  const raw = decode(body, version);
  if (raw.length === 0) throw new HttpError(400, `${VALIDATE_PREFIX}missing policies`);
  return raw.map((p) => {
    const problem = validateOne(p, version);
    if (problem) throw new HttpError(400, `${VALIDATE_PREFIX}${problem}`);
    const [start, end] = version === "v0" ? [p.port, p.port] : [p.start, p.end];
    return { source: p.sourceId, destination: p.destId, protocol: p.protocol as Protocol, startPort: start, endPort: end };
  });
}

export interface PolicyJsonV1 {
  source: { id: string };
  destination: { id: string; protocol: Protocol; ports: { start: number; end: number } };
}

export interface PolicyJsonV0 {
  source: { id: string };
  destination: { id: string; protocol: Protocol; port: number };
}

/** Renders policies for a list response; v0 omits ranges, as CF does. */
export function renderPolicies(policies: readonly Policy[], version: ApiVersion): { total_policies: number; policies: (PolicyJsonV1 | PolicyJsonV0)[] } {
  const out =
    version === "v1"
      ? policies.map((p) => ({
          source: { id: p.source },
          destination: { id: p.destination, protocol: p.protocol, ports: { start: p.startPort, end: p.endPort } },
        }))
      : policies
          .filter((p) => p.startPort === p.endPort)
          .map((p) => ({ source: { id: p.source }, destination: { id: p.destination, protocol: p.protocol, port: p.startPort } }));
  return { total_policies: out.length, policies: out };
}
