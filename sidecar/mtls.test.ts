// The optional modes: mutual TLS (only callers with a platform certificate get through, and the app
// learns who they are from a PROXY v2 header), and HTTP with X-Forwarded-Client-Cert (a forged
// header from the client never reaches the app).
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { request as httpsRequest } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { PP2, WEFT_TLV_IDENTITY, encodeProxyV2 } from "./proxy-protocol.js";
import { connectTls, readAll, startApp, startHarness, type Harness } from "./testing/harness.js";
import { TEST_IDENTITY, createTestRoot, issueInstance, type IssuedCredentials, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";
const FRONTEND = { instanceGuid: "a0b1c2d3-0000-4000-8000-00000000f00d", appGuid: "frontend-app", spaceGuid: "space-2", orgGuid: "org-2", routes: ["frontend.apps.internal"] };
const FRONTEND_URI = "spiffe://weft/org/org-2/space/space-2/app/frontend-app/instance/a0b1c2d3-0000-4000-8000-00000000f00d";

interface ParsedProxy {
  readonly length: number;
  readonly family: number;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly tlvs: Map<number, Buffer>;
}

/** A reader for the header, written from the spec, independent of the encoder. */
function parseProxyV2(b: Buffer): ParsedProxy {
  expect(b.subarray(0, 12).toString("latin1")).toBe("\r\n\r\n\0\r\nQUIT\n");
  expect(b[12]).toBe(0x21);
  const len = b.readUInt16BE(14);
  const family = b[13]!;
  expect(family).toBe(0x11);
  const ip = (o: number) => [...b.subarray(o, o + 4)].join(".");
  const tlvs = new Map<number, Buffer>();
  for (let o = 16 + 12; o < 16 + len; ) {
    const t = b[o]!;
    const l = b.readUInt16BE(o + 1);
    tlvs.set(t, b.subarray(o + 3, o + 3 + l));
    o += 3 + l;
  }
  return { length: 16 + len, family, src: ip(16), dst: ip(20), srcPort: b.readUInt16BE(24), dstPort: b.readUInt16BE(26), tlvs };
}

function subTlvs(ssl: Buffer): Map<number, string> {
  const m = new Map<number, string>();
  for (let o = 5; o < ssl.length; ) {
    const l = ssl.readUInt16BE(o + 1);
    m.set(ssl[o]!, ssl.subarray(o + 3, o + 3 + l).toString());
    o += 3 + l;
  }
  return m;
}

describe("mutual TLS and identity", () => {
  let root: TestRoot;
  let server: IssuedCredentials;
  let client: IssuedCredentials;
  let h: Harness;
  const cleanups: (() => Promise<void> | void)[] = [];
  beforeAll(async () => {
    root = await createTestRoot();
    server = await issueInstance(root);
    client = await issueInstance(root, FRONTEND);
    h = await startHarness();
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await h?.stop();
  });

  it("passes a verified caller's identity to the app in a PROXY v2 header, and turns away callers without a platform certificate", async () => {
    const received: Buffer[] = [];
    const app = await startApp((s: Socket) => {
      const chunks: Buffer[] = [];
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("end", () => {
        received.push(Buffer.concat(chunks));
        s.end("ok");
      });
    });
    cleanups.push(() => app.close());
    const port = await h.put({ guid: "mtls-pp2", credentials: server, appPort: app.port, options: { clientCertificates: "require", forward: "proxy-v2" } });

    const s = await connectTls({ port, ca: root.root.certPem, servername: NAME, key: client.keyPem, cert: client.certificateChainPem });
    const clientPort = s.localPort;
    s.end("payload");
    expect((await readAll(s)).toString()).toBe("ok");
    await eventually(() => expect(received).toHaveLength(1));
    const header = parseProxyV2(received[0]!);
    expect(received[0]!.subarray(header.length).toString()).toBe("payload");
    expect(header).toMatchObject({ src: "127.0.0.1", dst: "127.0.0.1", srcPort: clientPort, dstPort: port });
    expect(header.tlvs.get(WEFT_TLV_IDENTITY)?.toString()).toBe(FRONTEND_URI);
    expect(header.tlvs.get(PP2.AUTHORITY)?.toString()).toBe(NAME);
    const ssl = header.tlvs.get(PP2.SSL)!;
    expect(ssl[0]).toBe(PP2.CLIENT_SSL | PP2.CLIENT_CERT_CONN | PP2.CLIENT_CERT_SESS);
    expect(ssl.readUInt32BE(1)).toBe(0);
    expect(subTlvs(ssl).get(PP2.SUBTYPE_SSL_CN)).toBe(FRONTEND.instanceGuid);
    expect(subTlvs(ssl).get(PP2.SUBTYPE_SSL_VERSION)).toBe("TLSv1.3");

    // No certificate, or one from another CA: the app never sees the connection.
    const stranger = await issueInstance(await createTestRoot(), FRONTEND);
    for (const c of [undefined, stranger]) {
      const bad = await connectTls({ port, ca: root.root.certPem, servername: NAME, ...(c ? { key: c.keyPem, cert: c.certificateChainPem } : {}) }).then(
        async (t) => {
          t.on("error", () => undefined);
          t.end("let me in");
          return (await readAll(t).catch(() => Buffer.alloc(0))).toString();
        },
        () => "",
      );
      expect(bad).toBe("");
    }
    expect(received).toHaveLength(1);
  });

  it("encodes addresses as the spec lays them out", () => {
    const b = encodeProxyV2({ sourceAddress: "10.255.1.7", sourcePort: 40000, destinationAddress: "10.255.2.9", destinationPort: 61443 });
    expect(b.toString("hex")).toBe("0d0a0d0a000d0a515549540a" + "2111000c" + "0aff0107" + "0aff0209" + "9c40" + "f003");
    const v6 = encodeProxyV2({ sourceAddress: "fd00::1", sourcePort: 1, destinationAddress: "::ffff:10.0.0.1", destinationPort: 2 });
    expect(v6[13]).toBe(0x21);
    expect(v6.subarray(16, 32).toString("hex")).toBe("fd000000000000000000000000000001");
    expect(v6.subarray(32, 48).toString("hex")).toBe("00000000000000000000ffff0a000001");
  });

  it("adds X-Forwarded-Client-Cert in HTTP mode and drops one the client forged", async () => {
    const seen: IncomingHttpHeaders[] = [];
    const app = createHttpServer((req, res) => {
      seen.push(req.headers);
      res.end("hi");
    });
    await new Promise<void>((r) => app.listen(0, "127.0.0.1", r));
    cleanups.push(() => void app.close());
    const appPort = (app.address() as AddressInfo).port;
    const get = (port: number, withCert: boolean) =>
      new Promise<string>((resolve, reject) => {
        const req = httpsRequest(
          {
            host: "127.0.0.1",
            port,
            servername: NAME,
            ca: root.root.certPem,
            ...(withCert ? { key: client.keyPem, cert: client.certificateChainPem } : {}),
            headers: { "x-forwarded-client-cert": "By=spiffe://evil;URI=spiffe://weft/org/x/space/y/app/admin/instance/z" },
            agent: false,
          },
          (res) => {
            let t = "";
            res.setEncoding("utf8").on("data", (d: string) => (t += d)).on("end", () => resolve(`${res.statusCode} ${t}`));
          },
        );
        req.on("error", reject).end();
      });

    const mtlsPort = await h.put({ guid: "http-mtls", credentials: server, appPort, options: { clientCertificates: "require", forward: "http" } });
    expect(await get(mtlsPort, true)).toBe("200 hi");
    const xfcc = seen[0]!["x-forwarded-client-cert"] as string;
    const by = `spiffe://weft/org/${TEST_IDENTITY.orgGuid}/space/${TEST_IDENTITY.spaceGuid}/app/${TEST_IDENTITY.appGuid}/instance/${TEST_IDENTITY.instanceGuid}`;
    expect(xfcc).toMatch(new RegExp(`^By=${by};Hash=[0-9a-f]{64};Subject="CN=${FRONTEND.instanceGuid},OU=app:frontend-app,OU=space:space-2,OU=organization:org-2";URI=${FRONTEND_URI};DNS=`));
    expect(xfcc).not.toContain("evil");
    expect(seen[0]!["x-forwarded-proto"]).toBe("https");

    const plainPort = await h.put({ guid: "http-plain", credentials: server, appPort, options: { forward: "http" } });
    expect(await get(plainPort, false)).toBe("200 hi");
    expect(seen[1]!["x-forwarded-client-cert"]).toBeUndefined();
  });
});
