// What the sidecar does with the bytes: any protocol over TLS reaches the app unchanged (HTTP/1.1,
// HTTP/2, gRPC, raw TCP), half-close works in both directions, large transfers arrive intact
// through a slow reader, and a client learns at once when the app is down.
import { createHash, randomBytes } from "node:crypto";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as h2connect, createServer as createH2Server, type Http2Server } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../common/eventually.js";
import { connectTls, echoWithBye, readAll, readBytes, startApp, startHarness, unusedPort, type Harness } from "./testing/harness.js";
import { createTestRoot, issueInstance, type IssuedCredentials, type TestRoot } from "../test/support/test-pki.js";

const NAME = "backend.apps.internal";

async function listen(server: HttpServer | Http2Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

describe("forwarding", () => {
  let root: TestRoot;
  let creds: IssuedCredentials;
  let h: Harness;
  const cleanups: (() => Promise<void> | void)[] = [];
  let n = 0;
  const guid = () => `fwd-${++n}`;
  beforeAll(async () => {
    root = await createTestRoot();
    creds = await issueInstance(root);
    h = await startHarness();
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await h?.stop();
  });

  it("carries HTTP/1.1 unchanged", async () => {
    const app = createHttpServer((req, res) => res.end(JSON.stringify({ url: req.url, host: req.headers.host, tls: req.socket.remoteAddress !== undefined })));
    const appPort = await listen(app);
    cleanups.push(() => void app.close());
    const port = await h.put({ guid: "fwd-http", credentials: creds, appPort });
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: "127.0.0.1", port, servername: NAME, ca: root.root.certPem, path: "/hello?x=1", headers: { host: `${NAME}:61443` } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve(text));
      });
      req.on("error", reject).end();
    });
    expect(JSON.parse(body)).toMatchObject({ url: "/hello?x=1", host: `${NAME}:61443` });
  });

  it("carries HTTP/2 and gRPC when the container offers ALPN h2", async () => {
    const app = createH2Server();
    app.on("stream", (stream, headers) => {
      stream.respond({ ":status": 200 });
      stream.end(`h2 ${headers[":path"]}`);
    });
    const appPort = await listen(app);
    cleanups.push(() => void app.close());
    const port = await h.put({ guid: "fwd-h2", credentials: creds, appPort, options: { alpn: ["h2", "http/1.1"] } });
    const session = h2connect(`https://${NAME}:${port}`, { ca: root.root.certPem, host: "127.0.0.1", servername: NAME });
    const text = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ":path": "/grpc-like" });
      let t = "";
      req.setEncoding("utf8").on("data", (d: string) => (t += d)).on("end", () => resolve(t)).on("error", reject);
      req.end();
    });
    session.close();
    expect(text).toBe("h2 /grpc-like");

    // gRPC (grpc-js) through the same kind of listener: unary echo with raw byte messages.
    const identity = (b: Buffer) => b;
    const def = { echo: { path: "/weft.test.Echo/Echo", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity } };
    const server = new grpc.Server();
    server.addService(def, { echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.concat([Buffer.from("echo:"), call.request])) });
    const grpcPort = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    cleanups.push(() => void server.forceShutdown());
    const gport = await h.put({ guid: "fwd-grpc", credentials: creds, appPort: grpcPort, options: { alpn: ["h2"] } });
    const Client = grpc.makeGenericClientConstructor(def, "Echo");
    const client = new Client(`127.0.0.1:${gport}`, grpc.credentials.createSsl(Buffer.from(root.root.certPem)), { "grpc.ssl_target_name_override": NAME, "grpc.default_authority": NAME });
    const reply = await new Promise<Buffer>((resolve, reject) =>
      (client as unknown as { echo(b: Buffer, cb: (e: Error | null, r?: Buffer) => void): void }).echo(Buffer.from("hi"), (e, r) => (e ? reject(e) : resolve(r!))),
    );
    client.close();
    expect(reply.toString()).toBe("echo:hi");
  });

  it("passes a half-close from the client and from the app", async () => {
    const app = await startApp(echoWithBye);
    cleanups.push(() => app.close());
    const port = await h.put({ guid: guid(), credentials: creds, appPort: app.port });
    const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
    s.write("first ");
    expect((await readBytes(s, 6)).toString()).toBe("first ");
    s.end("last"); // client FIN: the app still answers afterwards
    expect((await readAll(s)).toString()).toBe("lastbye");

    // The app says goodbye first and keeps reading: the client can still send after the app's FIN.
    let received = "";
    const banner = await startApp((sock: Socket) => {
      sock.end("banner");
      sock.setEncoding("utf8").on("data", (d: string) => (received += d));
    });
    cleanups.push(() => banner.close());
    const bport = await h.put({ guid: guid(), credentials: creds, appPort: banner.port });
    const c = await connectTls({ port: bport, ca: root.root.certPem, servername: NAME });
    const ended = new Promise<string>((resolve) => {
      let t = "";
      c.setEncoding("utf8").on("data", (d: string) => (t += d)).once("end", () => resolve(t));
    });
    expect(await ended).toBe("banner");
    c.end("after the app's FIN");
    await eventually(() => expect(received).toBe("after the app's FIN"));
  });

  it("moves 16 MiB each way intact through a client that reads in bursts", async () => {
    const size = 16 << 20;
    const payload = randomBytes(size);
    const digest = (b: Buffer) => createHash("sha256").update(b).digest("hex");
    let uploaded = "";
    const app = await startApp((sock: Socket) => {
      const chunks: Buffer[] = [];
      sock.on("data", (d: Buffer) => chunks.push(d));
      sock.on("end", () => {
        uploaded = digest(Buffer.concat(chunks));
        sock.end();
      });
      sock.write(payload);
    });
    cleanups.push(() => app.close());
    const port = await h.put({ guid: guid(), credentials: creds, appPort: app.port });
    const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
    const got: Buffer[] = [];
    let total = 0;
    const done = new Promise<void>((resolve) => {
      s.on("data", (d: Buffer) => {
        got.push(d);
        total += d.length;
        if (total % (1 << 20) < d.length) {
          s.pause(); // let the pipeline fill, then go on
          setImmediate(() => s.resume());
        }
        if (total >= size) resolve();
      });
    });
    s.end(payload);
    await done;
    expect(digest(Buffer.concat(got))).toBe(digest(payload));
    await eventually(() => expect(uploaded).toBe(digest(payload)));
  });

  it("closes the client at once when the app is down", async () => {
    const port = await h.put({ guid: guid(), credentials: creds, appPort: await unusedPort() });
    const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
    s.write("anyone there?");
    expect((await readAll(s)).length).toBe(0);
    expect(s.destroyed || s.readableEnded).toBe(true);
  });

  it("closes a container's connections when it is removed", async () => {
    const app = await startApp(echoWithBye);
    cleanups.push(() => app.close());
    const g = guid();
    const port = await h.put({ guid: g, credentials: creds, appPort: app.port });
    const s = await connectTls({ port, ca: root.root.certPem, servername: NAME });
    s.on("error", () => undefined);
    const ended = readAll(s); // the client allows half-open: the sidecar's FIN shows as 'end'
    await h.remove(g);
    await ended;
    await eventually(() => expect(h.sidecar.containers.portOf(g)).toBeUndefined());
  });
});
