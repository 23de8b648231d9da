import type { ConfirmChannel as AmqpConfirmChannel, ChannelModel, ConsumeMessage, Options } from "amqplib";
import type { Logger } from "../log";
import { AmqpConnection } from "./amqp-connection";

export type SettleFailure = "unavailable" | "blocked" | "unroutable" | "timeout" | "error";

/** What the broker did with one publish; `failure` unset means confirmed and routed. */
export type Settle = (failure?: SettleFailure, detail?: string) => void;

interface Pending {
  /**
   * Exchange, routing key and messageId: what a basic.return tells about the message. Unset
   * for a publish that is not mandatory, which the broker never returns.
   */
  key?: string;
  settle: Settle;
  deadline: number;
  returned: boolean;
  settled: boolean;
}

/** How often unconfirmed publishes are checked against their deadline. */
const SWEEP_MS = 100;

/**
 * One long-lived confirm channel on its own connection, with many publishes in flight.
 *
 * Rascal borrows a pooled channel per publish and holds it until that one confirm arrives,
 * which caps throughput at the pool size; here every publish is written at once and settled
 * from the broker's (possibly multiple) acks. A mandatory message the broker could not route
 * comes back as `basic.return` before its ack, on the same channel and in publish order, so it
 * is matched to the oldest unsettled publish with its exchange, routing key and messageId (a
 * retry or dead letter reuses the messageId, but goes elsewhere). Each publish settles exactly
 * once: a confirm arriving after the deadline, or after the channel closed, is ignored.
 * While the connection is down or blocked by a resource alarm, publishes fail at once.
 */
export class ConfirmChannel {
  private readonly connection: AmqpConnection;
  private channel?: AmqpConfirmChannel;
  private closing = false;
  /** Unsettled publishes in publish order (a Set keeps insertion order), for the deadline sweep. */
  private readonly pending = new Set<Pending>();
  /** Unsettled publishes by returnKey, oldest first, to match returns. */
  private readonly byKey = new Map<string, Pending[]>();
  private sweeper?: ReturnType<typeof setInterval>;

  private readonly confirmTimeoutMs: number;
  private readonly log: Logger;

  constructor(options: { urls: readonly string[]; name: string; confirmTimeoutMs: number; log: Logger }) {
    this.confirmTimeoutMs = options.confirmTimeoutMs;
    this.log = options.log;
    this.connection = new AmqpConnection({
      ...options,
      opened: async (connection) => this.attach(connection, await connection.createConfirmChannel()),
      // Whatever was in flight has no confirm coming: fail it now rather than at the deadline.
      lost: () => {
        this.channel = undefined;
        this.failAll("unavailable", "broker connection lost");
      },
    });
  }

  get ready(): boolean {
    return this.channel !== undefined && !this.connection.blocked;
  }

  /** Opens the connection and channel; rejects when the broker cannot be reached now. */
  async open(): Promise<void> {
    await this.connection.open();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref?.();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.sweeper);
    this.channel = undefined;
    await this.connection.close();
    this.failAll("unavailable", "publisher closed");
  }

  /**
   * Writes one message and calls `settle` once with the outcome. Never throws: a publish that
   * cannot be written settles as a failure straight away.
   */
  publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish & { messageId: string },
    settle: Settle,
  ): void {
    const channel = this.channel;
    if (!channel) {
      settle("unavailable", "broker is not connected");
      return;
    }
    if (this.connection.blocked) {
      settle("blocked", "broker is blocking publishers (resource alarm)");
      return;
    }
    const key = options.mandatory ? returnKey(exchange, routingKey, options.messageId) : undefined;
    const entry: Pending = {
      key,
      settle,
      deadline: performance.now() + this.confirmTimeoutMs,
      returned: false,
      settled: false,
    };
    this.pending.add(entry);
    if (key !== undefined) {
      const queue = this.byKey.get(key);
      if (queue) queue.push(entry);
      else this.byKey.set(key, [entry]);
    }
    // All publishes of this turn of the event loop leave in one write.
    this.connection.cork();
    try {
      channel.publish(exchange, routingKey, content, options, (error) => {
        // amqplib fails every unconfirmed publish with "channel closed" when the channel or its
        // connection goes away: the broker may or may not have the message, it did not refuse it.
        if (error) this.finish(entry, ...describeFailure(error));
        else if (entry.returned) this.finish(entry, "unroutable", "no queue is bound for this message");
        else this.finish(entry);
      });
    } catch (error) {
      this.finish(entry, "unavailable", (error as Error).message);
    }
  }

  private finish(entry: Pending, failure?: SettleFailure, detail?: string): void {
    if (entry.settled) return;
    entry.settled = true;
    this.pending.delete(entry);
    const key = entry.key;
    const queue = key === undefined ? undefined : this.byKey.get(key);
    if (key !== undefined && queue) {
      const index = queue.indexOf(entry);
      if (index >= 0) queue.splice(index, 1);
      if (queue.length === 0) this.byKey.delete(key);
    }
    entry.settle(failure, detail);
  }

  private onReturn(message: ConsumeMessage): void {
    const messageId = message.properties.messageId as string | undefined;
    if (!messageId) return;
    const key = returnKey(message.fields.exchange, message.fields.routingKey, messageId);
    const entry = this.byKey.get(key)?.find((candidate) => !candidate.returned);
    if (entry) entry.returned = true;
  }

  /** Publishes past their deadline fail as `timeout`; their late confirm is then ignored. */
  private sweep(): void {
    const now = performance.now();
    for (const entry of this.pending) {
      // Deadlines grow in publish order: the first one not due ends the sweep.
      if (entry.deadline > now) break;
      this.finish(entry, "timeout", `no confirm within ${this.confirmTimeoutMs} ms`);
    }
  }

  private failAll(failure: SettleFailure, detail: string): void {
    for (const entry of [...this.pending]) this.finish(entry, failure, detail);
  }

  private attach(connection: ChannelModel, channel: AmqpConfirmChannel): void {
    this.channel = channel;
    channel.on("return", (message: ConsumeMessage) => this.onReturn(message));
    channel.on("error", (error: Error) =>
      this.log.warn({ err: error.message, publisher: this.connection.name }, "publisher channel error"),
    );
    channel.on("close", () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      this.failAll("error", "publisher channel closed");
      // A channel-level error (e.g. an exchange deleted under us) leaves the connection usable.
      if (this.closing || this.connection.current !== connection) return;
      connection.createConfirmChannel().then(
        (next) =>
          this.connection.current === connection && !this.closing
            ? this.attach(connection, next)
            : next.close().catch(() => {}),
        // No channel on a live connection: start over with a fresh connection.
        () => this.connection.reset(),
      );
    });
  }
}

function returnKey(exchange: string, routingKey: string, messageId: string): string {
  return `${exchange}\u0000${routingKey}\u0000${messageId}`;
}

function describeFailure(error: unknown): [SettleFailure, string] {
  const message = error instanceof Error ? error.message : String(error);
  if (message === "message nacked") return ["error", "the broker refused the message (nack)"];
  return ["unavailable", `no confirm: ${message}`];
}
