// A container served by the native data path (native-dp.ts): the same Front as TlsFront, with the
// listener, the handshakes and the bytes in weft-tlsd. It listens where the ListenTarget says: in
// another namespace the process binds the socket itself (setns), refusing our own namespace.
import { WeftError } from "../common/errors.js";
import type { ServingCredentials } from "./credentials.js";
import type { SidecarMetrics } from "./metrics.js";
import type { NativeDataPath } from "./native-dp.js";
import type { Front, ListenTarget } from "./tls-front.js";

export class NativeFront implements Front {
  private id: number | undefined;

  constructor(
    private readonly dp: NativeDataPath,
    private creds: ServingCredentials,
    private readonly opts: { readonly upstream: { readonly host: string; readonly port: number }; readonly alpn: readonly string[]; readonly metrics: SidecarMetrics },
  ) {}

  async listen(target: ListenTarget): Promise<number> {
    if ("server" in target) throw new WeftError("INTERNAL", "the native data path binds its own listening sockets");
    if (this.id !== undefined) throw new WeftError("INTERNAL", "this front already listens");
    const listen = "netnsPath" in target ? { netnsPath: target.netnsPath, host: target.host, port: target.port } : { host: target.host, port: target.port };
    const { id, port } = await this.dp.add({ listen, upstream: this.opts.upstream, alpn: this.opts.alpn, creds: this.creds });
    this.id = id;
    return port;
  }

  async rotate(creds: ServingCredentials): Promise<void> {
    if (this.id === undefined) throw new WeftError("INTERNAL", "this front does not listen");
    await this.dp.rotate(this.id, creds);
    this.creds = creds;
    this.opts.metrics.rotations.inc();
  }

  get connections(): number {
    return this.id === undefined ? 0 : this.dp.connectionsOf(this.id);
  }

  async close(): Promise<void> {
    if (this.id === undefined) return;
    const id = this.id;
    this.id = undefined;
    await this.dp.remove(id);
  }
}
