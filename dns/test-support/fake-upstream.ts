// A fake upstream resolver on loopback, built on dns2 (an implementation independent of ours), with
// one behaviour per name:
//   ok.example.test       A 192.0.2.10, TTL 60
//   nx.example.test       NXDOMAIN
//   fail.example.test     SERVFAIL
//   refused.example.test  REFUSED
//   silent.example.test   never answered
//   big.example.test      60 A records (dns2 truncates over UDP to the requestor's size)
//   tc.example.test       always TC with no records over UDP; 60 A records over TCP
//   other names           NXDOMAIN
// It records which names arrived over which transport.
import dns2 from "dns2";
import type { AddressInfo } from "node:net";

const { Packet } = dns2;
type Request = InstanceType<typeof Packet>;

export interface FakeUpstream {
  readonly port: number;
  readonly udpNames: string[];
  readonly tcpNames: string[];
  close(): Promise<void>;
}

export const BIG_COUNT = 60;
export const bigAddress = (i: number) => `198.51.100.${i + 1}`;

function answer(request: Request, tcp: boolean): InstanceType<typeof Packet> | undefined {
  const response = Packet.createResponseFromRequest(request);
  response.header.ra = 1;
  const [q] = request.questions;
  if (!q) return response;
  const name = q.name.toLowerCase();
  const setRcode = (rcode: number) => {
    response.header.rcode = rcode;
    return response;
  };
  switch (name) {
    case "ok.example.test":
      if (q.type === Packet.TYPE.A) response.answers.push(Packet.createResourceFromQuestion(q, { ttl: 60, address: "192.0.2.10" }));
      return response;
    case "nx.example.test":
      return setRcode(3);
    case "fail.example.test":
      return setRcode(2);
    case "refused.example.test":
      return setRcode(5);
    case "silent.example.test":
      return undefined;
    case "big.example.test":
    case "tc.example.test":
      if (name === "tc.example.test" && !tcp) {
        response.header.tc = 1;
        return response;
      }
      for (let i = 0; i < BIG_COUNT; i++) response.answers.push(Packet.createResourceFromQuestion(q, { ttl: 60, address: bigAddress(i) }));
      return response;
    default:
      return setRcode(3);
  }
}

/** UDP takes an ephemeral port and TCP must get the same one, which another test may hold: retry. */
export async function startFakeUpstream(attempts = 10): Promise<FakeUpstream> {
  for (let i = 1; ; i++) {
    try {
      return await startOnce();
    } catch (err) {
      if ((err as { code?: unknown }).code !== "EADDRINUSE" || i >= attempts) throw err;
    }
  }
}

async function startOnce(): Promise<FakeUpstream> {
  const udpNames: string[] = [];
  const tcpNames: string[] = [];
  const udp = dns2.createUDPServer((request, send) => {
    udpNames.push(request.questions[0]?.name ?? "");
    const response = answer(request, false);
    if (response) void send(response);
  });
  await udp.listen(0, "127.0.0.1");
  const port = (udp.address()).port;
  const tcp = dns2.createTCPServer((request, send) => {
    tcpNames.push(request.questions[0]?.name ?? "");
    const response = answer(request, true);
    if (response) void send(response);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(port, "127.0.0.1");
      tcp.once("listening", () => resolve());
    });
  } catch (err) {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    throw err;
  }
  if ((tcp.address() as AddressInfo).port !== port) throw new Error("fake upstream: TCP port differs");
  return {
    port,
    udpNames,
    tcpNames,
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
