// Requests malformed below HTTP semantics, written as raw bytes on a TLS socket: invalid methods
// and request lines, illegal header bytes, conflicting or invalid lengths, bad chunking, header
// overflow, odd request targets and Host headers. Node's HTTP parser rejects most of these before
// the API sees them. Each targets a route that would be a 4xx anyway, so a request that does get
// through must still be refused. Also the stalled connections held open during the whole run.
import type { TokenKit } from "./hostile-tokens.js";

export interface FramingCase {
  readonly name: string;
  readonly bytes: Buffer;
  /** The server may close without answering (CONNECT with no tunnel support). */
  readonly mayClose?: boolean;
}

const CRLF = "\r\n";
const req = (lines: string[], body = "") => Buffer.from(lines.join(CRLF) + CRLF + CRLF + body, "latin1");

export function framingCases(kit: TokenKit): FramingCase[] {
  const auth = `Authorization: Bearer ${kit.admin}`;
  const create = '{"policies":[{"source":{"id":"raw-a"},"destination":{"id":"raw-b","protocol":"tcp","ports":{"start":1,"end":1}}}]}';
  const noAuthCreate = (extra: string[], body = create) => req(["POST /networking/v1/external/policies HTTP/1.1", "Host: localhost", "Connection: close", ...extra], body);
  const cases: [string, Buffer, boolean?][] = [
    ["unknown method", req(["FOO /nope HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["lower-case method", req(["get /nope HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["method with a space", req(["G ET /nope HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["CONNECT", req(["CONNECT 127.0.0.1:22 HTTP/1.1", "Host: 127.0.0.1:22"]), true],
    ["HTTP/9.9", req(["GET /nope HTTP/9.9", "Host: localhost", "Connection: close"])],
    ["no HTTP version", req(["GET /nope", "Host: localhost"])],
    ["space in the target", req(["GET /no pe HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["NUL in the target", req(["GET /no\u0000pe HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["raw UTF-8 in the target", Buffer.concat([Buffer.from("GET /n"), Buffer.from([0xc3, 0xb1]), Buffer.from(` HTTP/1.1${CRLF}Host: localhost${CRLF}Connection: close${CRLF}${CRLF}`)])],
    ["control byte in a header value", req(["GET /nope HTTP/1.1", "Host: localhost", "X-Bad: a\u0001b", "Connection: close"])],
    ["space in a header name", req(["GET /nope HTTP/1.1", "Host: localhost", "Bad Header: x", "Connection: close"])],
    ["obsolete line folding", req(["GET /nope HTTP/1.1", "Host: localhost", "X-Folded: a", " b", "Connection: close"])],
    ["no Host", req(["GET /nope HTTP/1.1", "Connection: close"])],
    ["Host with a space", req(["GET /nope HTTP/1.1", "Host: ev il", "Connection: close"])],
    ["two Hosts", req(["GET /nope HTTP/1.1", "Host: a", "Host: b", "Connection: close"])],
    ["asterisk target", req(["GET * HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["absolute-form target", req(["GET https://evil.example/nope HTTP/1.1", "Host: localhost", "Connection: close"])],
    ["backslash in the path", req(["GET /networking\\v1\\external\\tags HTTP/1.1", "Host: localhost", auth, "Connection: close"])],
    ["Content-Length and Transfer-Encoding", noAuthCreate([`Content-Length: ${create.length}`, "Transfer-Encoding: chunked"])],
    ["negative Content-Length", noAuthCreate(["Content-Length: -1"])],
    ["non-numeric Content-Length", noAuthCreate(["Content-Length: 1e3"])],
    ["conflicting Content-Lengths", noAuthCreate([`Content-Length: ${create.length}`, "Content-Length: 5"])],
    ["bad chunk size", noAuthCreate(["Transfer-Encoding: chunked"], `zz${CRLF}${create}${CRLF}0${CRLF}${CRLF}`)],
    ["chunk size overflow", noAuthCreate(["Transfer-Encoding: chunked"], `ffffffffffffffffff${CRLF}x${CRLF}0${CRLF}${CRLF}`)],
    ["Transfer-Encoding not ending in chunked", noAuthCreate(["Transfer-Encoding: chunked, identity"])],
    ["declared 11 MB, sent little, with a token", req(["POST /networking/v1/external/policies HTTP/1.1", "Host: localhost", auth, "Content-Type: application/json", `Content-Length: ${11 * 1024 * 1024}`, "Connection: close"], create)],
    ["Expect: 200-ok", noAuthCreate(["Expect: 200-ok", `Content-Length: ${create.length}`])],
    ["20 KB header", req(["GET /nope HTTP/1.1", "Host: localhost", `X-Big: ${"a".repeat(20_000)}`, "Connection: close"])],
    ["20 KB target", req([`GET /${"b".repeat(20_000)} HTTP/1.1`, "Host: localhost", "Connection: close"])],
    ["3,000 headers", req(["GET /nope HTTP/1.1", "Host: localhost", ...Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`), "Connection: close"])],
    ["pipelined garbage after a request", Buffer.concat([req(["GET /nope HTTP/1.1", "Host: localhost"]), Buffer.from("\u0000\u00ff garbage\r\n\r\n", "latin1")])],
    ["TLS then plain garbage", Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])],
  ];
  return cases.map(([name, bytes, mayClose]) => ({ name, bytes, ...(mayClose ? { mayClose } : {}) }));
}

/** Partial requests that a slow or broken client leaves hanging. */
export function stalledRequests(kit: TokenKit): Buffer[] {
  const auth = `Authorization: Bearer ${kit.admin}`;
  return [
    Buffer.alloc(0),
    Buffer.from(`GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}`),
    req(["POST /networking/v1/external/policies HTTP/1.1", "Host: localhost", auth, "Content-Length: 1000"], '{"policies":['),
    req(["POST /networking/v1/external/policies HTTP/1.1", "Host: localhost", auth, "Transfer-Encoding: chunked"], `5${CRLF}{"pol`),
  ];
}
