import amqp from "amqplib";
import type { ConfirmChannel } from "amqplib";

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
