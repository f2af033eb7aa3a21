// Hostile request bodies for the policy API, built from valid ones so that each differs from an
// accepted request in exactly one way: a wrong JSON type at one field (v1 and v0 schemas), an
// invalid value (huge or fractional numbers, -0, long ids, control characters, lone surrogates),
// broken JSON text (truncated, trailing garbage, BOMs, invalid UTF-8) or deep nesting. Values that
// JSON.stringify cannot express (1e309, -0, 2^53+1) are spliced in as raw text.
import type { Prng } from "./prng.js";

export type ApiVersion = "v0" | "v1";
type Path = readonly (string | number)[];
type Kind = "object" | "array" | "string" | "int";

export interface PolicySpec {
  readonly source: string;
  readonly destination: string;
  readonly protocol: "tcp" | "udp";
  readonly start: number;
  readonly end: number;
}

export function policyJson(p: PolicySpec, version: ApiVersion): Record<string, unknown> {
  const destination =
    version === "v1"
      ? { id: p.destination, protocol: p.protocol, ports: { start: p.start, end: p.end } }
      : { id: p.destination, protocol: p.protocol, port: p.start };
  return { source: { id: p.source }, destination };
}

const MARK = "\u0001hostile-mark\u0001";
const MARK_JSON = JSON.stringify(MARK);

/** JSON text of value with the field at path replaced by raw JSON text (or deleted when raw is undefined). */
export function spliced(value: unknown, path: Path, raw: string | undefined): string {
  if (path.length === 0) return raw ?? "";
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (raw === undefined) {
    delete at[last];
    return JSON.stringify(copy);
  }
  at[last] = MARK;
  return JSON.stringify(copy).replace(MARK_JSON, () => raw);
}

function fields(version: ApiVersion, i: number): [Path, Kind][] {
  const p = ["policies", i];
  const d = [...p, "destination"];
  const common: [Path, Kind][] = [
    [[], "object"],
    [["policies"], "array"],
    [p, "object"],
    [[...p, "source"], "object"],
    [[...p, "source", "id"], "string"],
    [[...p, "source", "tag"], "string"],
    [d, "object"],
    [[...d, "id"], "string"],
    [[...d, "tag"], "string"],
    [[...d, "protocol"], "string"],
  ];
  return version === "v1"
    ? [...common, [[...d, "ports"], "object"], [[...d, "ports", "start"], "int"], [[...d, "ports", "end"], "int"]]
    : [...common, [[...d, "port"], "int"]];
}

const RAW_BY_KIND: Record<Kind | "bool", readonly string[]> = {
  int: ["0", "1", "-1", "1.5", "1e309", "-0", "9007199254740993"],
  bool: ["true", "false"],
  string: ['""', '"x"', '"8080"'],
  array: ["[]", "[1]", '["tcp"]', "[[[[[]]]]]"],
  object: ["{}", '{"id":"x"}'],
};

export interface BodyCase {
  readonly name: string;
  readonly text: string | Buffer;
}

/** Every field of the schema with every JSON type it does not have, plus null where null is not a valid zero value. */
export function wrongTypeBodies(body: { policies: unknown[] }, version: ApiVersion, i: number): BodyCase[] {
  const out: BodyCase[] = [];
  for (const [path, kind] of fields(version, i)) {
    const at = path.join(".") || "(root)";
    for (const [group, raws] of Object.entries(RAW_BY_KIND)) {
      if (group === kind) continue;
      for (const raw of raws) out.push({ name: `wrong type at ${at}: ${raw}`, text: spliced(body, path, raw) });
    }
    // null decodes as the zero value: fine for a tag (no tag), invalid everywhere else.
    if (!at.endsWith(".tag")) out.push({ name: `null at ${at}`, text: spliced(body, path, "null") });
  }
  return out;
}

const BAD_PORTS = ["0", "-0", "-1", "65536", "100000", "1e5", "1e309", "-1e309", "1E400", "9007199254740993", "-9007199254740993", "4294967297", "1.5", "8080.5", "65535.9", "0.0", "-0.0"];
const BAD_PROTOCOLS = ["TCP", "Udp", "icmp", "all", "", " tcp", "tcp ", "tcp\u0000", "udp\n", "tcp,udp", "ｔｃｐ", "t".repeat(100_000)];

function badIds(prng: Prng): string[] {
  const base = prng.string(8);
  const controls = [...Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)), "\u007f"];
  return [
    "",
    "x".repeat(256),
    prng.string(10_000),
    prng.string(1_000_000),
    ...controls.map((c) => `${base.slice(0, prng.int(9))}${c}${base}`),
    `${base}\ud800`,
    `\udc00${base}`,
    `${base}\udc00\ud800`,
  ];
}

/** One invalid value at each value-carrying field. */
export function badValueBodies(body: { policies: unknown[] }, version: ApiVersion, i: number, prng: Prng): BodyCase[] {
  const p = ["policies", i];
  const d = [...p, "destination"];
  const out: BodyCase[] = [];
  const portPaths: Path[] = version === "v1" ? [[...d, "ports", "start"], [...d, "ports", "end"]] : [[...d, "port"]];
  for (const path of portPaths) for (const raw of BAD_PORTS) out.push({ name: `bad port ${path.join(".")}=${raw}`, text: spliced(body, path, raw) });
  for (const proto of BAD_PROTOCOLS) out.push({ name: `bad protocol ${JSON.stringify(proto.slice(0, 20))}`, text: spliced(body, [...d, "protocol"], JSON.stringify(proto)) });
  for (const path of [[...p, "source", "id"], [...d, "id"]]) {
    for (const id of badIds(prng)) out.push({ name: `bad id at ${path.join(".")} (${id.length} chars)`, text: spliced(body, path, JSON.stringify(id)) });
  }
  for (const path of [[...p, "source", "tag"], [...d, "tag"]]) out.push({ name: `tag at ${path.join(".")}`, text: spliced(body, path, '"0001"') });
  const required: Path[] = [[...p, "source"], [...p, "source", "id"], d, [...d, "id"], [...d, "protocol"]];
  if (version === "v1") required.push([...d, "ports"], [...d, "ports", "start"], [...d, "ports", "end"]);
  else required.push([...d, "port"]);
  for (const path of required) out.push({ name: `missing ${path.join(".")}`, text: spliced(body, path, undefined) });
  if (version === "v1") out.push({ name: "start > end", text: spliced(body, [...d, "ports"], '{"start":9000,"end":8000}') });
  out.push({ name: "empty policies", text: '{"policies":[]}' }, { name: "empty object", text: "{}" });
  out.push({ name: "__proto__ root", text: `{"__proto__":${JSON.stringify(body)}}` });
  out.push({ name: "__proto__ policy", text: `{"policies":[{"__proto__":${JSON.stringify(body.policies[0])}}]}` });
  out.push({ name: "constructor.prototype", text: `{"constructor":{"prototype":${JSON.stringify(body)}}}` });
  return out;
}

const INVALID_UTF8: readonly number[][] = [[0xff], [0xfe], [0x80], [0xc0, 0x80], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const TRAILING = ["x", "}", "]", ",", "{}", "\u0000", "null", "1", "/* */", "// c", '"'];
const LEADING = ["\ufeff", ")]}',\n", "\u0000", "x", "[", "//\n"];

/** count variants of broken JSON text derived from a valid body (ASCII, no escaped quotes). */
export function brokenJsonBodies(valid: string, prng: Prng, count: number): BodyCase[] {
  const out: BodyCase[] = [];
  const structural = [...valid].map((ch, k) => ("{}[]:,\"".includes(ch) ? k : -1)).filter((k) => k >= 0);
  for (let n = 0; n < count; n++) {
    switch (n % 8) {
      case 0: {
        const k = prng.int(valid.length);
        out.push({ name: `truncated at ${k}/${valid.length}`, text: valid.slice(0, k) });
        break;
      }
      case 1:
        out.push({ name: "trailing garbage", text: valid + prng.pick(TRAILING) });
        break;
      case 2:
        out.push({ name: "leading garbage", text: prng.pick(LEADING) + valid });
        break;
      case 3: {
        const k = prng.pick(structural);
        out.push({ name: `structural char ${valid[k]} removed at ${k}`, text: valid.slice(0, k) + valid.slice(k + 1) });
        break;
      }
      case 4: {
        const k = prng.int(valid.length + 1);
        const bad = Buffer.from(prng.pick(INVALID_UTF8));
        out.push({ name: `invalid UTF-8 ${bad.toString("hex")} at ${k}`, text: Buffer.concat([Buffer.from(valid.slice(0, k)), bad, Buffer.from(valid.slice(k))]) });
        break;
      }
      case 5: {
        const bom = prng.pick([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from([0xff, 0xfe]), Buffer.from([0xfe, 0xff])]);
        out.push({ name: `BOM ${bom.toString("hex")}`, text: Buffer.concat([bom, Buffer.from(valid)]) });
        break;
      }
      case 6: {
        const bad = prng.pick(["NaN", "Infinity", "-Infinity", "0x1F90", "08080", "+8080", ".5", "1.", "1e", "undefined", "'tcp'", "tcp"]);
        out.push({ name: `non-JSON literal ${bad}`, text: valid.replace(/:("[^"]*"|\d+)/, `:${bad}`) });
        break;
      }
      default: {
        const bad = prng.pick(["\\x41", "\\u12g", "\\U0041", "\\/\\", "\t", "\n", "\u0001", "\\a"]);
        out.push({ name: `bad escape or raw control ${JSON.stringify(bad)} in a string`, text: valid.replace(/:"/, `:"${bad}`) });
      }
    }
  }
  for (const c of out) if (parses(c.text)) throw new Error(`generator bug: "${c.name}" is valid JSON`);
  return out;
}

function parses(text: string | Buffer): boolean {
  try {
    JSON.parse(typeof text === "string" ? text : new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(text));
    return true;
  } catch {
    return false;
  }
}

/** 100k-deep arrays or objects at the root, in place of each object field, or in an unknown field. */
export function deepBodies(body: { policies: unknown[] }, version: ApiVersion, depth = 100_000): BodyCase[] {
  const arrays = "[".repeat(depth) + "]".repeat(depth);
  const objects = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  const out: BodyCase[] = [
    { name: "deep arrays at root", text: arrays },
    { name: "deep objects at root", text: objects },
    { name: "unclosed deep arrays", text: "[".repeat(depth) },
    { name: "deep arrays in an unknown field, no policies", text: `{"x":${arrays}}` },
  ];
  for (const [path, kind] of fields(version, 0)) {
    if (path.length === 0) continue;
    out.push({ name: `deep ${kind === "array" ? "objects" : "arrays"} at ${path.join(".")}`, text: spliced(body, path, kind === "array" ? objects : arrays) });
  }
  return out;
}
