import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import type { Logger } from "../log";
import { AckBatcher } from "./ack-batcher";
import { AmqpConnection } from "./amqp-connection";
import type { ResolvedSubscription } from "./resolved-config";

/** What becomes of a delivery once its handling ended. */
export type Settlement = "ack" | "requeue";

/**
 * Handles one delivery. `content` is decoded as Rascal would (JSON, text or the raw bytes, by
 * content type); `invalid` says why it could not be.
 */
export type OnDelivery = (message: ConsumeMessage, content: unknown, invalid?: Error) => Promise<Settlement>;

/** Declares a subscription's queue again (with its bindings) as rascal.json has it. */
export type Redeclare = (channel: Channel, subscription: ResolvedSubscription) => Promise<void>;

interface Consumer {
  subscription: ResolvedSubscription;
  onDelivery: OnDelivery;
  /** The channel consuming now, with its consumer tag (once the broker gave it) and pending acks. */
  active?: { channel: Channel; consumerTag?: string; acks: AckBatcher };
  /** A restore of this consumer alone is scheduled (see `restoreLater`). */
  restoring?: boolean;
  /** The wait before its next restore; grows while restoring fails. */
  restoreDelayMs?: number;
}

/** First wait before a lost consumer is restored on its own; doubles up to the maximum. */
const RESTORE_MIN_MS = 500;
const RESTORE_MAX_MS = 5000;

/**
 * The subscriptions of one vhost, consumed on a connection of the service's own (Rascal still
 * declares the topology and validates the subscriptions). Each subscription gets a channel with
 * its prefetch; the acks of one turn of the event loop leave in one write, contiguous ones as a
 * single frame (see AckBatcher). After a connection loss it reconnects and consumes again;
 * deliveries that were running then are redelivered by the broker, so their settlement is
 * dropped. A consumer the broker ends on its own (its queue was deleted) is restored alone,
 * its queue declared again first, while the other subscriptions go on.
 */
export class QueueConsumers {
  private readonly connection: AmqpConnection;
  private readonly consumers: Consumer[] = [];
  private cancelled = false;
  /** Set once the first connection consumes: start-up fails on a queue it cannot consume, later losses do not. */
  private started = false;

  private readonly log: Logger;
  private readonly redeclare?: Redeclare;

  constructor(options: { urls: readonly string[]; name: string; log: Logger; redeclare?: Redeclare }) {
    this.log = options.log;
    this.redeclare = options.redeclare;
    this.connection = new AmqpConnection({
      ...options,
      opened: (connection) => this.consumeAll(connection),
      lost: () => {
        for (const consumer of this.consumers) consumer.active = undefined;
      },
    });
  }

  add(subscription: ResolvedSubscription, onDelivery: OnDelivery): void {
    this.consumers.push({ subscription, onDelivery });
  }

  /** Connects and starts consuming; rejects when the broker cannot be reached now. */
  start(): Promise<void> {
    return this.connection.open();
  }

  /** Connected and consuming every subscription. */
  get ready(): boolean {
    return (
      this.connection.current !== undefined &&
      this.consumers.every((consumer) => consumer.active?.consumerTag !== undefined)
    );
  }

  /** Stops new deliveries; running ones can still be settled until `close`. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    await Promise.all(
      this.consumers.map(async ({ active }) => {
        if (active?.consumerTag) await active.channel.cancel(active.consumerTag).catch(() => {});
      }),
    );
  }

  /** Sends the acks still pending and closes; unsettled deliveries return to their queues. */
  async close(): Promise<void> {
    this.cancelled = true;
    // Closing each channel first: its close follows the acks on the channel's own stream,
    // while the connection's close could overtake them.
    await Promise.all(
      this.consumers.map(async ({ active }) => {
        if (!active) return;
        active.acks.flush();
        await active.channel.close().catch(() => {});
      }),
    );
    await this.connection.close();
  }

  private async consumeAll(connection: ChannelModel): Promise<void> {
    if (this.cancelled) return;
    for (const consumer of this.consumers) {
      try {
        await this.consume(connection, consumer);
      } catch (error) {
        if (!this.started) throw error;
        this.restoreLater(connection, consumer, error as Error);
      }
    }
    this.started = true;
  }

  /**
   * Consumes one subscription again on the same connection after the broker ended it (a
   * deleted queue, a channel error): its queue is declared again first, with backoff while that
   * fails. A connection lost meanwhile makes this moot: the new one consumes everything.
   */
  private restoreLater(connection: ChannelModel, consumer: Consumer, cause: Error): void {
    if (consumer.restoring) return;
    consumer.restoring = true;
    const delayMs = consumer.restoreDelayMs ?? RESTORE_MIN_MS;
    consumer.restoreDelayMs = Math.min(RESTORE_MAX_MS, delayMs * 2);
    const name = consumer.subscription.name;
    const timer = setTimeout(async () => {
      consumer.restoring = false;
      if (this.cancelled || this.connection.current !== connection || consumer.active) return;
      // Logged only now: when the whole connection went, its channels closed too, and there is
      // nothing to say beyond the connection's own warning.
      this.log.warn(
        { subscription: name, err: cause.message },
        "subscription not consumed; restoring it, the others go on",
      );
      try {
        if (this.redeclare) {
          const channel = await connection.createChannel();
          try {
            await this.redeclare(channel, consumer.subscription);
          } finally {
            await channel.close().catch(() => {});
          }
        }
        await this.consume(connection, consumer);
        consumer.restoreDelayMs = undefined;
        this.log.info({ subscription: name }, "subscription consumed again");
      } catch (error) {
        this.restoreLater(connection, consumer, error as Error);
      }
    }, delayMs);
    timer.unref?.();
  }

  private async consume(connection: ChannelModel, consumer: Consumer): Promise<void> {
    const { subscription } = consumer;
    const channel = await connection.createChannel();
    if (subscription.prefetch) await channel.prefetch(subscription.prefetch);
    const acks = new AckBatcher(channel, () => this.connection.cork());
    channel.on("error", (error: Error) =>
      this.log.warn({ err: error.message, subscription: subscription.name }, "consumer channel error"),
    );
    channel.on("close", () => {
      if (consumer.active?.channel !== channel) return;
      consumer.active = undefined;
      // The broker closed this channel (or the whole connection, which restoreLater then skips).
      if (!this.cancelled) this.restoreLater(connection, consumer, new Error("consumer channel closed"));
    });
    // Active before the broker's consume-ok, so that no delivery can arrive on a channel its
    // settlement would not recognise.
    const active: NonNullable<Consumer["active"]> = { channel, acks };
    consumer.active = active;
    const { consumerTag } = await channel.consume(
      subscription.source,
      (message) => {
        // null: the broker cancelled the consumer (its queue was deleted). Closing the channel
        // drops its unsettled deliveries' settlements (they went with the queue).
        if (!message) {
          if (consumer.active?.channel === channel) consumer.active = undefined;
          void channel.close().catch(() => {});
          if (!this.cancelled)
            this.restoreLater(connection, consumer, new Error("the broker cancelled the consumer (queue deleted?)"));
          return;
        }
        this.deliver(consumer, channel, acks, message);
      },
      subscription.options ?? {},
    );
    active.consumerTag = consumerTag;
  }

  private deliver(consumer: Consumer, channel: Channel, acks: AckBatcher, message: ConsumeMessage): void {
    acks.delivered(message);
    let content: unknown;
    let invalid: Error | undefined;
    try {
      content = decode(message, consumer.subscription.contentType);
    } catch (error) {
      invalid = error as Error;
    }
    consumer.onDelivery(message, content, invalid).then(
      (settlement) => this.settle(consumer, channel, acks, message, settlement),
      (error: unknown) => {
        this.log.error(
          { err: error, subscription: consumer.subscription.name },
          "message processing failed unexpectedly; requeued",
        );
        this.settle(consumer, channel, acks, message, "requeue");
      },
    );
  }

  private settle(
    consumer: Consumer,
    channel: Channel,
    acks: AckBatcher,
    message: ConsumeMessage,
    settlement: Settlement,
  ): void {
    // Delivered on a channel that is gone: the broker has put the message back already.
    if (consumer.active?.channel !== channel) return;
    if (settlement === "ack") acks.ack(message);
    else acks.requeue(message);
  }
}

/** Content as Rascal decodes it: JSON and text by content type, anything else as bytes. */
function decode(message: ConsumeMessage, contentType = message.properties.contentType as string | undefined): unknown {
  if (contentType === "application/json") return JSON.parse(message.content.toString());
  if (contentType === "text/plain") return message.content.toString();
  return message.content;
}
