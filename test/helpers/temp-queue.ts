import type { ConfirmChannel } from "amqplib";
import amqp from "amqplib";
import { type ResolvedConfig, vhostUrls } from "../../src/broker/resolved-config";

export const AMQP_URL = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

export interface TempQueue {
  queue: string;
  /** A confirm channel on a connection of the test's own, to fill and inspect the queue. */
  channel: ConfirmChannel;
  /** Messages ready in the queue (not counting unacknowledged ones). */
  ready(): Promise<number>;
  /** Deletes the queue and closes the connection. */
  remove(): Promise<void>;
}

/** A durable queue with a random name on the shared broker, for one test. */
export async function tempQueue(purpose: string, args: Record<string, unknown> = {}): Promise<TempQueue> {
  const connection = await amqp.connect(AMQP_URL);
  const channel = await connection.createConfirmChannel();
  const queue = `t-${crypto.randomUUID().slice(0, 8)}:${purpose}`;
  await channel.assertQueue(queue, { durable: true, arguments: args });
  return {
    queue,
    channel,
    ready: async () => (await channel.checkQueue(queue)).messageCount,
    remove: async () => {
      await channel.deleteQueue(queue);
      await connection.close();
    },
  };
}

/**
 * Deletes every queue and exchange of a topology as Rascal resolved it (the names of a test's
 * namespace): what a test declared, it removes.
 */
export async function deleteTopology(config: ResolvedConfig): Promise<void> {
  for (const [vhost, declared] of Object.entries(config.vhosts)) {
    const urls = vhostUrls(config, vhost);
    if (urls.length === 0) continue;
    const connection = await connectToAny(urls);
    try {
      // A failed delete closes the channel: one channel per object.
      const remove = async (action: (channel: amqp.Channel) => Promise<unknown>) => {
        const channel = await connection.createChannel();
        channel.on("error", () => {});
        await action(channel).catch(() => {});
        await channel.close().catch(() => {});
      };
      for (const queue of Object.values(declared.queues ?? {})) {
        await remove((channel) => channel.deleteQueue(queue.fullyQualifiedName));
      }
      for (const exchange of Object.values(declared.exchanges ?? {})) {
        // The default exchange ("") cannot be deleted and needs no cleaning.
        if (exchange.fullyQualifiedName) await remove((channel) => channel.deleteExchange(exchange.fullyQualifiedName));
      }
    } finally {
      await connection.close().catch(() => {});
    }
  }
}

/** The first node of the list that answers (a cluster's list may start with one that is down). */
async function connectToAny(urls: string[]): Promise<amqp.ChannelModel> {
  let failure: unknown;
  for (const url of urls) {
    try {
      return await amqp.connect(url);
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}
