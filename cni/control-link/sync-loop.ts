// Keeps the agent's Sync stream to control open: hello with the last enforced revision, then apply
// each snapshot or delta in order and ack it once enforced (or nack with the error), and hand
// pushed certificates over. A lost stream is re-opened with exponential backoff and full jitter;
// meanwhile the agent keeps enforcing what it has (fail static).
import type { ClientDuplexStream } from "@grpc/grpc-js";
import { errorMessage } from "../../common/errors.js";
import { silentLogger, type Logger } from "../../common/logger.js";
import type { AgentMessage, ControlMessage, InstanceCertificate } from "../../proto/types.js";
import type { ControlClient } from "./control-client.js";
import { backoffDelay, type BackoffOptions } from "../../common/backoff.js";

export { backoffDelay, type BackoffOptions };

export interface SyncHandler {
  /** The last revision enforced in the kernel (sent in hello). */
  enforcedRevision(): number;
  readonly underlayIp: string;
  /** Applies a snapshot or delta; resolve once enforced, reject to nack. */
  apply(msg: ControlMessage): Promise<void>;
  onCertificate?(cert: InstanceCertificate): void;
  onConnected?(): void;
  onDisconnected?(why: string): void;
}

export class SyncLoop {
  private stream: ClientDuplexStream<AgentMessage, ControlMessage> | undefined;
  private stopped = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ControlClient,
    private readonly handler: SyncHandler,
    private readonly log: Logger = silentLogger,
    private readonly backoff: BackoffOptions = {},
    private readonly agentVersion = "weft-agent",
  ) {}

  start(): void {
    this.open();
  }

  get connected(): boolean {
    return this.stream !== undefined;
  }

  private open(): void {
    if (this.stopped) return;
    const stream = this.client.cell.Sync();
    this.stream = stream;
    let settled = false;
    const lost = (why: string) => {
      if (settled) return;
      settled = true;
      if (this.stream === stream) this.stream = undefined;
      this.handler.onDisconnected?.(why);
      if (this.stopped) return;
      const delay = backoffDelay(this.attempt++, this.backoff);
      this.log.warn({ why, retryInMs: delay }, "sync-stream-lost");
      this.timer = setTimeout(() => this.open(), delay);
    };
    stream.on("data", (msg: ControlMessage) => {
      if (this.attempt !== 0) this.log.info("sync-stream-restored");
      this.attempt = 0;
      this.receive(stream, msg);
    });
    stream.on("error", (err: Error) => lost(errorMessage(err)));
    stream.on("end", () => lost("stream ended"));
    stream.write({ hello: { enforcedRevision: this.handler.enforcedRevision(), underlayIp: this.handler.underlayIp, agentVersion: this.agentVersion } });
    this.handler.onConnected?.();
  }

  private receive(stream: ClientDuplexStream<AgentMessage, ControlMessage>, msg: ControlMessage): void {
    if (msg.kind === "certificate") {
      if (msg.certificate) this.handler.onCertificate?.(msg.certificate);
      return;
    }
    // Apply strictly in order; each ack/nack goes back on the stream it came from.
    this.queue = this.queue.then(async () => {
      try {
        await this.handler.apply(msg);
        if (this.stream === stream) stream.write({ ack: { revision: msg.revision } });
      } catch (err) {
        this.log.warn({ revision: msg.revision, err: errorMessage(err) }, "revision-apply-failed");
        if (this.stream === stream) stream.write({ nack: { revision: msg.revision, error: errorMessage(err) } });
      }
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stream?.cancel();
    this.stream = undefined;
  }
}
