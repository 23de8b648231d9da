import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "../log";
import { AmqpConnection } from "./amqp-connection";
import { type ResolvedConfig, vhostUrls } from "./resolved-config";

/** A queue as the gauge labels it and as the broker knows it (Rascal may namespace it). */
export interface WatchedQueue {
  vhost: string;
  /** The name in rascal.json: the gauge's `queue` label. */
  label: string;
  /** The name on the broker. */
  fullName: string;
}

/** One queue's ready messages and consumers, or why it could not be read (the queue is gone, the broker is down). */
export type DepthReading =
  | { queue: WatchedQueue; messages: number; consumers: number }
  | { queue: WatchedQueue; error: string };

/** Lists the queues of Rascal's resolved config, namespaced names included. */
export function watchedQueues(config: ResolvedConfig): WatchedQueue[] {
  const several = Object.keys(config.vhosts).length > 1;
  return Object.entries(config.vhosts).flatMap(([vhost, declared]) =>
    Object.entries(declared.queues ?? {}).map(([name, queue]) => ({
      vhost,
      // One vhost is the common case: label with the plain name; otherwise say which vhost.
      label: several ? `${vhost}/${name}` : name,
      fullName: queue.fullyQualifiedName,
    })),
  );
}

/**
 * Reads how many messages are ready in every queue of rascal.json, by a passive declare
 * (checkQueue) of each. It runs on a connection of its own per vhost because a failed check
 * (the queue was deleted) closes the channel, and that must not disturb the channels that
 * publish and consume orders.
 */
export class QueueDepths {
  readonly queues: readonly WatchedQueue[];
  private readonly connections = new Map<string, { connection: AmqpConnection; opened: Promise<void> }>();

  constructor(private readonly options: { config: ResolvedConfig; log: Logger }) {
    this.queues = watchedQueues(options.config);
  }

  /** Every queue's depth now; the vhosts are read side by side. */
  async read(): Promise<DepthReading[]> {
    const vhosts = [...new Set(this.queues.map((queue) => queue.vhost))];
    const perVhost = await Promise.all(
      vhosts.map((vhost) => this.readVhost(this.queues.filter((queue) => queue.vhost === vhost))),
    );
    return perVhost.flat();
  }

  /**
   * One round trip to the broker on each vhost (a passive declare of its first queue): true
   * when every vhost answered. A broker that holds the connection open but does not answer
   * (stalled, frozen) makes this hang: callers give it a deadline.
   */
  async probe(): Promise<boolean> {
    const firstOfEach = [...new Map(this.queues.map((queue) => [queue.vhost, queue])).values()];
    const readings = await Promise.all(firstOfEach.map((queue) => this.readVhost([queue])));
    return readings.flat().every((reading) => "messages" in reading);
  }

  async close(): Promise<void> {
    const open = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(open.map(({ connection }) => connection.close()));
  }

  private async readVhost(queues: WatchedQueue[]): Promise<DepthReading[]> {
    const readings: DepthReading[] = [];
    let channel: Channel | undefined;
    for (const queue of queues) {
      try {
        channel ??= await openChannel(await this.connection(queue.vhost));
        const { messageCount, consumerCount } = await channel.checkQueue(queue.fullName);
        readings.push({ queue, messages: messageCount, consumers: consumerCount });
      } catch (error) {
        // A failed check closes the channel on the broker's side; the next queue gets a new one.
        channel = undefined;
        readings.push({ queue, error: (error as Error).message });
      }
    }
    await channel?.close().catch(() => {});
    return readings;
  }

  /** The vhost's connection, opened on first use; after a failed first open, tried again next time. */
  private async connection(vhost: string): Promise<ChannelModel> {
    let entry = this.connections.get(vhost);
    if (!entry) {
      const urls = vhostUrls(this.options.config, vhost);
      const connection = new AmqpConnection({
        urls,
        name: `order-pipeline queue depth (${vhost})`,
        log: this.options.log,
      });
      entry = { connection, opened: connection.open() };
      this.connections.set(vhost, entry);
    }
    try {
      await entry.opened;
    } catch (error) {
      if (this.connections.get(vhost) === entry) this.connections.delete(vhost);
      throw error;
    }
    // Lost since: the connection reopens itself, until then there is nothing to read.
    const current = entry.connection.current;
    if (!current) throw new Error("broker is not connected");
    return current;
  }
}

async function openChannel(connection: ChannelModel): Promise<Channel> {
  const channel = await connection.createChannel();
  // The 404 of a missing queue arrives as a channel error too; checkQueue's rejection reports it.
  channel.on("error", () => {});
  return channel;
}
