// Feeds the DNS registry from control's registry stream (gRPC Registry.Watch over mutual TLS, with
// the cell's credentials): a snapshot, then deltas, applied as they arrive. When the stream drops,
// the server keeps answering from what it has (fail static) and reconnects with backoff and
// jitter, asking to resume from its revision; control answers with a fresh snapshot.
import type { ClientReadableStream } from "@grpc/grpc-js";
import { backoffDelay } from "../common/backoff.js";
import { loadCellCredentials } from "../common/cell-credentials.js";
import { errorMessage } from "../common/errors.js";
import { cellChannelCredentials, cellChannelOptions } from "../common/grpc-channel.js";
import type { Logger } from "../common/logger.js";
import { loadWeftProto } from "../proto/load.js";
import type { RegistryClient, RegistryUpdate } from "../proto/types.js";
import type { DnsRegistry } from "./registry.js";

export interface RegistryStreamOptions {
  /** The cell's credentials directory (written by the agent when it joined). */
  readonly credentialsDir: string;
  readonly backoff?: { initialMs?: number; maxMs?: number };
}

export class RegistryStream {
  private client: RegistryClient | undefined;
  private call: ClientReadableStream<RegistryUpdate> | undefined;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  connected = false;

  constructor(
    private readonly registry: DnsRegistry,
    private readonly opts: RegistryStreamOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    let call: ClientReadableStream<RegistryUpdate>;
    try {
      // Credentials are re-read on every connect: the agent renews the cell certificate.
      const creds = loadCellCredentials(this.opts.credentialsDir);
      this.client?.close();
      const proto = loadWeftProto();
      this.client = new proto.weft.v1.Registry(creds.grpcEndpoint, cellChannelCredentials(creds), cellChannelOptions());
      call = this.client.Watch({ revision: this.registry.revision });
    } catch (err) {
      this.retry(errorMessage(err));
      return;
    }
    this.call = call;
    let settled = false;
    const lost = (why: string) => {
      if (settled) return;
      settled = true;
      this.connected = false;
      if (this.call === call) this.call = undefined;
      this.retry(why);
    };
    call.on("data", (update: RegistryUpdate) => {
      this.connected = true;
      this.attempt = 0;
      const result = this.registry.apply(update);
      if (result.kind === "ignored") this.log.debug({ revision: update.revision, reason: result.reason }, "registry-update-ignored");
    });
    call.on("error", (err: Error) => lost(errorMessage(err)));
    call.on("end", () => lost("stream ended"));
  }

  private retry(why: string): void {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++, this.opts.backoff);
    this.log.warn({ why, retryInMs: delay }, "registry-stream-lost");
    this.timer = setTimeout(() => this.open(), delay);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.call?.cancel();
    this.client?.close();
  }
}
