import type { Channel, ConsumeMessage } from "amqplib";

/**
 * Settles the deliveries of one consumer channel, acknowledging them in as few frames as it
 * can: the acks of one turn of the event loop leave together, and a run of finished deliveries
 * that starts at the oldest unsettled one becomes a single `multiple` ack. For a quorum queue
 * every ack frame is a command in its replicated log, so one frame for many messages saves the
 * broker most of that work. A delivery still running keeps the later ones from joining the
 * run; they are acked one by one meanwhile, in the same write.
 */
export class AckBatcher {
  /** Unsettled deliveries, in delivery order (delivery tags grow). */
  private readonly unsettled = new Map<number, ConsumeMessage>();
  /** Finished deliveries whose ack is not sent yet. */
  private readonly finished = new Set<number>();
  private flushScheduled = false;

  constructor(
    private readonly channel: Channel,
    /** Called before frames are written (the connection corks its socket for the turn). */
    private readonly beforeSend: () => void,
  ) {}

  delivered(message: ConsumeMessage): void {
    this.unsettled.set(message.fields.deliveryTag, message);
  }

  ack(message: ConsumeMessage): void {
    if (!this.unsettled.has(message.fields.deliveryTag)) return;
    this.finished.add(message.fields.deliveryTag);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Gives a delivery back to its queue (acks finished before it leave first, in order). */
  requeue(message: ConsumeMessage): void {
    if (!this.unsettled.has(message.fields.deliveryTag)) return;
    this.flush();
    this.unsettled.delete(message.fields.deliveryTag);
    this.send(() => this.channel.nack(message, false, true));
  }

  /** Sends the pending acks now (before the channel closes). */
  flush(): void {
    this.flushScheduled = false;
    if (this.finished.size === 0) return;
    this.send(() => this.sendAcks());
  }

  private sendAcks(): void {
    let lastOfRun: ConsumeMessage | undefined;
    for (const [tag, message] of this.unsettled) {
      if (!this.finished.has(tag)) break;
      lastOfRun = message;
      this.unsettled.delete(tag);
      this.finished.delete(tag);
    }
    if (lastOfRun) this.channel.ack(lastOfRun, true);
    for (const tag of this.finished) {
      this.channel.ack(this.unsettled.get(tag)!);
      this.unsettled.delete(tag);
    }
    this.finished.clear();
  }

  private send(frames: () => void): void {
    this.beforeSend();
    try {
      frames();
    } catch {
      // The channel is closed: the broker has put every unsettled delivery back in its queue.
      this.unsettled.clear();
      this.finished.clear();
    }
  }
}
