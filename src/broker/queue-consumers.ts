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

interface Consumer {
  subscription: ResolvedSubscription;
  onDelivery: OnDelivery;
  /** The channel consuming now, with its consumer tag (once the broker gave it) and pending acks. */
  active?: { channel: Channel; consumerTag?: string; acks: AckBatcher };
}

/**
 * The subscriptions of one vhost, consumed on a connection of the service's own (Rascal still
 * declares the topology and validates the subscriptions). Each subscription gets a channel with
 * its prefetch; the acks of one turn of the event loop leave in one write, contiguous ones as a
 * single frame (see AckBatcher). After a connection loss it reconnects and consumes again;
 * deliveries that were running then are redelivered by the broker, so their settlement is
 * dropped.
 */
export class QueueConsumers {
  private readonly connection: AmqpConnection;
  private readonly consumers: Consumer[] = [];
  private cancelled = false;

  constructor(urls: readonly string[], name: string, private readonly log: Logger) {
    this.connection = new AmqpConnection(urls, name, log, {
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
    return this.connection.current !== undefined && this.consumers.every((consumer) => consumer.active?.consumerTag !== undefined);
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
    for (const consumer of this.consumers) await this.consume(connection, consumer);
  }

  private async consume(connection: ChannelModel, consumer: Consumer): Promise<void> {
    const { subscription } = consumer;
    const channel = await connection.createChannel();
    if (subscription.prefetch) await channel.prefetch(subscription.prefetch);
    const acks = new AckBatcher(channel, () => this.connection.cork());
    channel.on("error", (error: Error) => this.log.warn({ err: error.message, subscription: subscription.name }, "consumer channel error"));
    channel.on("close", () => {
      if (consumer.active?.channel !== channel) return;
      consumer.active = undefined;
      // The broker closed the channel (a queue deleted under us…): start over on a new connection.
      if (!this.cancelled) this.connection.reset();
    });
    // Active before the broker's consume-ok, so that no delivery can arrive on a channel its
    // settlement would not recognise.
    const active: NonNullable<Consumer["active"]> = { channel, acks };
    consumer.active = active;
    const { consumerTag } = await channel.consume(
      subscription.source,
      (message) => {
        // null: the broker cancelled the consumer (its queue was deleted).
        if (!message) return void (this.cancelled || this.connection.reset());
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
        this.log.error({ err: error, subscription: consumer.subscription.name }, "message processing failed unexpectedly; requeued");
        this.settle(consumer, channel, acks, message, "requeue");
      },
    );
  }

  private settle(consumer: Consumer, channel: Channel, acks: AckBatcher, message: ConsumeMessage, settlement: Settlement): void {
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
