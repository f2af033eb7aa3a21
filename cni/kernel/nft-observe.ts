// Reads `nft -j list table inet weft` into the ObservedFilter the planner diffs against. Base
// rules are recognised by their comments, and the sets and maps by their elements. Anything
// unrecognised in a base chain shows up as a foreign comment (or none), which makes the planner
// rebuild that chain.
import { WeftError } from "../../common/errors.js";
import { allowKey, emptyFilter, type AllowEntry, type ObservedFilter, type Protocol } from "./kernel-types.js";
import { EDGE_SETS } from "./nft-ruleset.js";
import type { PortRange } from "./port-ranges.js";

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return Number(v);
  return undefined;
}

function elemPrefix(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (isObj(v) && isObj(v.prefix) && typeof v.prefix.addr === "string") return `${v.prefix.addr}/${String(v.prefix.len)}`;
  if (isObj(v) && isObj(v.elem)) return elemPrefix(v.elem.val);
  return undefined;
}

export function parseNftTable(text: string): ObservedFilter {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new WeftError("INTERNAL", "nft printed invalid JSON", { cause });
  }
  const items = isObj(doc) && Array.isArray(doc.nftables) ? (doc.nftables as unknown[]) : [];
  const f = emptyFilter();
  const baseChains = new Map<string, string[]>();
  const portClasses = new Map<number, PortRange[]>();
  const containers = new Set<string>();
  const tags = new Map<string, number>();
  const allow = new Map<string, AllowEntry>();
  const overlay = new Set<string>();
  const elements = new Map<string, Map<string, string>>();
  let present = false;

  for (const item of items) {
    if (!isObj(item)) continue;
    if (isObj(item.table)) present = true;
    if (isObj(item.chain) && typeof item.chain.name === "string") baseChains.set(item.chain.name, []);
    if (isObj(item.rule) && typeof item.rule.chain === "string") {
      const chain = item.rule.chain;
      const comment = typeof item.rule.comment === "string" ? item.rule.comment : "";
      baseChains.set(chain, [...(baseChains.get(chain) ?? []), comment]);
    }
    const set = isObj(item.set) ? item.set : isObj(item.map) ? item.map : undefined;
    if (set && typeof set.name === "string" && Array.isArray(set.elem)) {
      const edge = (EDGE_SETS as readonly string[]).includes(set.name);
      for (const e of set.elem as unknown[]) {
        if (!edge) readElement(set.name, e, { containers, tags, allow, overlay, portClasses });
        const parsed = edge ? readEdgeElement(e) : undefined;
        if (parsed) {
          let m = elements.get(set.name);
          if (!m) elements.set(set.name, (m = new Map<string, string>()));
          m.set(parsed.key, parsed.text);
        }
      }
    }
  }
  for (const ranges of portClasses.values()) ranges.sort((a, b) => a.start - b.start);
  return { ...f, present, baseChains, portClasses, containers, tags, allow, overlay, elements };
}

/** One key or value part as nft's text syntax writes it: an address, a protocol name, a port. */
function scalarText(v: unknown): string | undefined {
  if (typeof v === "string" || typeof v === "number") return String(v);
  if (isObj(v) && Array.isArray(v.concat)) {
    const parts = (v.concat as unknown[]).map(scalarText);
    return parts.every((p) => p !== undefined) ? parts.join(" . ") : undefined;
  }
  if (isObj(v) && isObj(v.jump) && typeof v.jump.target === "string") return `jump ${v.jump.target}`;
  if (isObj(v) && isObj(v.goto) && typeof v.goto.target === "string") return `goto ${v.goto.target}`;
  return undefined;
}

/** An edge set's element as (key, the text `add element` takes), matching what the planner writes. */
export function readEdgeElement(e: unknown): { key: string; text: string } | undefined {
  if (Array.isArray(e)) {
    const [k, v] = e as unknown[];
    const key = scalarText(k);
    const value = scalarText(v);
    return key !== undefined && value !== undefined ? { key, text: `${key} : ${value}` } : undefined;
  }
  if (isObj(e) && isObj(e.elem)) return readEdgeElement(e.elem.val);
  const key = scalarText(e);
  return key !== undefined ? { key, text: key } : undefined;
}

interface Sinks {
  containers: Set<string>;
  tags: Map<string, number>;
  allow: Map<string, AllowEntry>;
  overlay: Set<string>;
  portClasses: Map<number, PortRange[]>;
}

function portOf(v: unknown): PortRange | undefined {
  if (typeof v === "number") return { start: v, end: v };
  if (isObj(v) && Array.isArray(v.range)) {
    const [start, end] = v.range as unknown[];
    if (typeof start === "number" && typeof end === "number") return { start, end };
  }
  return undefined;
}

function readElement(set: string, e: unknown, s: Sinks): void {
  if (set === "containers" && typeof e === "string") s.containers.add(e);
  if (set === "overlay") {
    const p = elemPrefix(e);
    if (p) s.overlay.add(p.includes("/") ? p : `${p}/32`);
  }
  if (set === "ports" && isObj(e) && Array.isArray(e.concat)) {
    const [idV, portV] = e.concat as unknown[];
    const id = toNumber(idV);
    const range = portOf(portV);
    if (id !== undefined && range) s.portClasses.set(id, [...(s.portClasses.get(id) ?? []), range]);
  }
  if (!Array.isArray(e)) return;
  const [key, value] = e as unknown[];
  if (set === "tags" && typeof key === "string") {
    const tag = toNumber(value);
    if (tag !== undefined) s.tags.set(key, tag);
  }
  if (set === "allow" && isObj(key) && Array.isArray(key.concat)) {
    const [tagV, ip, proto] = key.concat as unknown[];
    const tag = toNumber(tagV);
    const classId = toNumber(value);
    if (tag === undefined || classId === undefined || typeof ip !== "string" || (proto !== "tcp" && proto !== "udp")) return;
    const protocol: Protocol = proto;
    s.allow.set(allowKey(tag, ip, protocol), { tag, ip, protocol, classId });
  }
}
