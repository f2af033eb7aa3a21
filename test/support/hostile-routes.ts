// Hostile requests aimed at routing and framing: unknown API versions on every CF route, weird
// paths and methods, malformed query strings (bad percent-encoding, NUL and control characters,
// over-long ids), bodies in other content types, bodies over the 10 MB cap (declared and
// chunked) and HEAD requests. As in hostile-cases.ts, the valid parts would change the store if
// the server let them through.
import { gzipSync } from "node:zlib";
import { JSON_TYPE, bearer, privilegedRoutes } from "./hostile-cases.js";
import { policyJson } from "./hostile-bodies.js";
import type { HostileRequest } from "./hostile-http.js";
import type { TokenKit } from "./hostile-tokens.js";
import { newPolicy, seededPolicy, type World } from "./hostile-world.js";
import type { Prng } from "./prng.js";

const BAD_VERSIONS = ["v2", "V1", "v01", "v1.0", "v-1", "1", "v", "vv1", "v1%20", "%00", "v1%00", "%F0%9F%98%80", "x".repeat(2000), "latest", "v1;x", "v0.9", "%2e%2e"];

export function versionCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const routes = privilegedRoutes(world, prng).filter((r) => r.path.startsWith("/networking/"));
  return BAD_VERSIONS.flatMap((v) =>
    routes.map((r) => ({
      name: `version ${v.slice(0, 16)} on ${r.name}`,
      method: r.method,
      path: r.path.replace(/^\/networking\/v[01]\//, `/networking/${v}/`),
      headers: { ...bearer(kit.admin), ...(r.body === undefined ? {} : JSON_TYPE) },
      ...(r.body === undefined ? {} : { body: Buffer.from(JSON.stringify(r.body)) }),
      expect: v === "%2e%2e" ? [404] : [406],
    })),
  );
}

const CF_PATHS = ["/networking/v1/external/policies", "/networking/v0/external/policies/delete", "/networking/v1/external/policies/cleanup", "/networking/v1/external/tags", "/networking/v0/external/whoami"];
const ODD_METHODS = ["PUT", "DELETE", "PATCH", "TRACE", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "PURGE", "REPORT", "LINK", "UNLINK", "MKCALENDAR", "QUERY", "ACL", "BIND", "MERGE", "NOTIFY", "SUBSCRIBE", "SOURCE"];
const ODD_PATHS = [
  "/networking/v1/external", "/networking/v1/external/", "/networking/v1/external/policies/", "/networking/v1/external/policies/x",
  "/networking/v1/external/policy", "/networking/v1/internal/policies", "/networking/v1/external//policies", "//networking/v1/external/policies",
  "/networking/v1/external/policies%2Fdelete", "/NETWORKING/v1/external/policies", "/networking/v1/external/policies/delete/x", "/networking/v1/external/tags/x",
  "/networking/v1/external/policies/../../../../etc/passwd", "/weft/v1", "/weft/v1/", "/weft/v2/apps", "/weft/v1/apps/a/b", "/weft/v1/apps/", "/weft/v1/app",
  "/admin", "/.env", "/metrics", "/health/", "/networking/", "/index.html", "/%2e%2e/%2e%2e/etc/passwd", "/networking/v1/external/%70olicies/x",
];

export function pathCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const auth = bearer(kit.admin);
  const body = Buffer.from(JSON.stringify({ policies: [policyJson(newPolicy(world, prng), "v1")] }));
  const out: HostileRequest[] = [];
  for (const path of CF_PATHS) for (const method of ODD_METHODS) out.push({ name: `${method} ${path}`, method, path, headers: { ...auth, ...JSON_TYPE }, body, expect: [404] });
  for (const path of ["/networking/v1/external/policies/delete", "/networking/v1/external/policies/cleanup"]) out.push({ name: `GET ${path}`, method: "GET", path, headers: auth, expect: [404] });
  for (const path of ["/networking/v1/external/tags", "/networking/v1/external/whoami", "/health", "/", "/networking"]) {
    for (const method of ["POST", "PUT", "DELETE"]) out.push({ name: `${method} ${path}`, method, path, headers: { ...auth, ...JSON_TYPE }, body, expect: [404] });
  }
  for (const path of ODD_PATHS) for (const method of ["GET", "POST", "PUT", "DELETE"]) out.push({ name: `${method} ${path}`, method, path, headers: { ...auth, ...JSON_TYPE }, body, expect: [404] });
  for (const guid of ["x".repeat(256), "a%00b", "%01", "a%7Fb", "%0A", "a%09b", "%ED%A0%80", "%zz", "%", "%C0%AF"]) {
    for (const method of ["GET", "PUT", "DELETE"]) {
      out.push({ name: `${method} app ${guid.slice(0, 12)}`, method, path: `/weft/v1/apps/${guid}`, headers: { ...auth, ...JSON_TYPE }, body: Buffer.from('{"name":"n","space_guid":"s","org_guid":"o"}'), expect: [400] });
    }
  }
  // Random deep and long paths: unknown segments under every prefix.
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@";
  for (let n = 0; n < 120; n++) {
    const prefix = prng.pick(["", "/networking", "/networking/v1", "/networking/v1/external/policies", "/weft/v1/apps/x", "/weft"]);
    // Each segment starts with a letter, so none is a "." or ".." that URL parsing would resolve.
    const segments = Array.from({ length: prng.range(1, n % 10 === 0 ? 400 : 6) }, () => `s${prng.string(prng.range(0, 19), alphabet)}`);
    out.push({ name: `random path ${n}`, method: prng.pick(["GET", "POST", "PUT", "DELETE", "PATCH"]), path: `${prefix}/zz${segments.join("/")}`, headers: auth, expect: [404] });
  }
  return out;
}

const BAD_QUERIES = [
  "id=%zz", "id=%", "id=%1", "id=%G0", "id=a%", "id=%ED%A0%80", "id=%C0%AF", "id=%FF", "id=%E2%82", "id=%u0041", "id=%%32", "%zz=1", "id=a&%=b",
  "id=%00", "id=a%00b", "id=a%01b", "id=x%1Fy", "id=a%7Fb", "id=a,%00", "id=a%0Ab", "source_id=a%09b", "dest_id=a%0Db", "source_id=%00&dest_id=x",
  `id=${"x".repeat(256)}`, `id=a,b,${"y".repeat(300)}`, `source_id=${"z".repeat(5000)}`,
];

export function queryCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const auth = bearer(kit.admin);
  const out: HostileRequest[] = [];
  for (const q of BAD_QUERIES) {
    for (const v of ["v0", "v1"]) out.push({ name: `list ${v} ?${q.slice(0, 30)}`, method: "GET", path: `/networking/${v}/external/policies?${q}`, headers: auth, expect: [400] });
    const create = Buffer.from(JSON.stringify({ policies: [policyJson(newPolicy(world, prng), "v1")] }));
    if (q.includes("%") && !/%(00|0[1-9A-F]|1F|7F)/i.test(q)) {
      out.push({ name: `create with ?${q.slice(0, 30)}`, method: "POST", path: `/networking/v1/external/policies?${q}`, headers: { ...auth, ...JSON_TYPE }, body: create, expect: [400] });
      out.push({ name: `app with ?${q.slice(0, 30)}`, method: "PUT", path: `/weft/v1/apps/hostile-q?${q}`, headers: { ...auth, ...JSON_TYPE }, body: Buffer.from('{"name":"n","space_guid":"s","org_guid":"o"}'), expect: [400] });
    }
  }
  for (const q of ["name=%zz", "name=%00", "name=a%01b", "name=%ED%A0%80", `name=${"n".repeat(256)}`, "name=%"]) out.push({ name: `apps ?${q.slice(0, 20)}`, method: "GET", path: `/weft/v1/apps?${q}`, headers: auth, expect: [400] });
  for (let n = 0; n < 40; n++) {
    const id = prng.string(prng.range(0, 12));
    // Either not hex after "%", or a UTF-8 lead byte with no continuation: never a valid escape.
    const bad = `%${prng.pick(["g", "Z", "x1", "-1", "%", "zz", "G", "%3", "C3", "E2%82", "F0%9F"])}`;
    out.push({ name: `list ?id=${id}${bad}`, method: "GET", path: `/networking/v1/external/policies?id=${id}${bad}${prng.string(2)}`, headers: auth, expect: [400] });
  }
  return out;
}

function utf16(text: string): Buffer {
  return Buffer.from(`\ufeff${text}`, "utf16le");
}

export function contentTypeCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const out: HostileRequest[] = [];
  for (const [path, pick] of [["/networking/v1/external/policies", () => newPolicy(world, prng)], ["/networking/v1/external/policies/delete", () => seededPolicy(world, prng)]] as const) {
    const text = JSON.stringify({ policies: [policyJson(pick(), "v1")] });
    const bodies: [string, Record<string, string>, Buffer][] = [
      ["form", { "content-type": "application/x-www-form-urlencoded" }, Buffer.from(`policies=${encodeURIComponent(text)}`)],
      ["multipart", { "content-type": "multipart/form-data; boundary=XyZ" }, Buffer.from(`--XyZ\r\nContent-Disposition: form-data; name="policies"\r\n\r\n${text}\r\n--XyZ--\r\n`)],
      ["xml", { "content-type": "application/xml" }, Buffer.from(`<?xml version="1.0"?><policies><policy source="a" destination="b"/></policies>`)],
      ["yaml", { "content-type": "application/yaml" }, Buffer.from("policies:\n  - source: {id: a}\n")],
      ["text", { "content-type": "text/plain" }, Buffer.from("please create a policy")],
      ["utf-16 JSON", { "content-type": "application/json; charset=utf-16" }, utf16(text)],
      ["gzip JSON", { "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(text)],
      ["br garbage", { "content-type": "application/json", "content-encoding": "br" }, Buffer.from([0x8b, 0x02, 0x80, 0x68, 0x69, 0x03])],
      ["cbor", { "content-type": "application/cbor" }, Buffer.from([0xa1, 0x68, 0x70, 0x6f, 0x6c, 0x69, 0x63, 0x69, 0x65, 0x73, 0x80])],
      ["no content type, form body", {}, Buffer.from("policies=x")],
      ["json type, empty body", { "content-type": "application/json" }, Buffer.alloc(0)],
    ];
    for (let n = 0; n < 10; n++) bodies.push([`octet-stream ${n}`, { "content-type": "application/octet-stream" }, Buffer.from(Array.from({ length: prng.range(1, 256) }, () => prng.int(256)))]);
    for (const [name, headers, body] of bodies) out.push({ name: `${name} to ${path}`, method: "POST", path, headers: { ...bearer(kit.admin), ...headers }, body, expect: [400] });
  }
  return out;
}

/** Over the 10 MB cap: declared, chunked, and just one byte over; each would be a valid create if read. */
export function bigBodyCases(world: World, kit: TokenKit, prng: Prng): HostileRequest[] {
  const cap = 10 * 1024 * 1024;
  const valid = JSON.stringify({ policies: [policyJson(newPolicy(world, prng), "v1")] });
  const padded = (size: number) => Buffer.concat([Buffer.alloc(size - valid.length, 0x20), Buffer.from(valid)]);
  const headers = { ...bearer(kit.admin), ...JSON_TYPE };
  const path = "/networking/v1/external/policies";
  const split = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
  return [
    { name: "11 MB with Content-Length", method: "POST", path, headers, body: padded(11 * 1024 * 1024), expect: [400] },
    { name: "11 MB chunked", method: "POST", path, headers, chunks: split(padded(11 * 1024 * 1024), 1024 * 1024), expect: [400] },
    { name: "cap + 1 chunked in 64 KB chunks", method: "POST", path, headers, chunks: split(padded(cap + 1), 64 * 1024), expect: [400] },
    { name: "cap + 1 with Content-Length", method: "POST", path, headers, body: padded(cap + 1), expect: [400] },
    { name: "11 MB app body", method: "PUT", path: "/weft/v1/apps/hostile-big", headers, body: Buffer.concat([Buffer.alloc(11 * 1024 * 1024, 0x20), Buffer.from('{"name":"n","space_guid":"s","org_guid":"o"}')]), expect: [400] },
  ];
}

export function headCases(kit: TokenKit): HostileRequest[] {
  const out: HostileRequest[] = [];
  for (const path of ["/networking/v1/external/policies", "/networking/v0/external/tags", "/networking/v1/external/whoami", "/weft/v1/apps"]) {
    out.push({ name: `HEAD ${path} without token`, method: "HEAD", path, headers: {}, expect: [401] });
    out.push({ name: `HEAD ${path} with garbage token`, method: "HEAD", path, headers: { authorization: "Bearer x.y.z" }, expect: [401] });
  }
  out.push({ name: "HEAD bad version", method: "HEAD", path: "/networking/v9/external/policies", headers: bearer(kit.admin), expect: [406] });
  out.push({ name: "HEAD unknown path", method: "HEAD", path: "/nope", headers: bearer(kit.admin), expect: [404] });
  out.push({ name: "HEAD bad query", method: "HEAD", path: "/networking/v1/external/policies?id=%zz", headers: bearer(kit.admin), expect: [400] });
  return out;
}
