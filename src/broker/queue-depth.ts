import type { BrokerAsPromised } from "rascal";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { resolvedConfig } from "./resolved-config";

/**
 * The `queue_messages{queue}` gauge: every `intervalMs`, a passive declare (checkQueue) of every
 * queue in rascal.json reads how many messages are ready. It runs on its own connection per vhost
 * because a failed check (the queue was deleted) closes the channel, and that must not disturb
 * the channels that publish and consume orders.
 */

/** A queue as the gauge labels it and as the broker knows it (Rascal may namespace it). */
export interface WatchedQueue {
  vhost: string;
  /** The name in rascal.json: the gauge's `queue` label. */
  label: string;
  /** The name on the broker. */
  fullName: string;
}

export interface QueueDepthWatcher {
  /** Reads every queue once now (also what the timer does). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/** Rascal hands out amqplib's callback-API connection (its types claim the promise API). */
interface CallbackChannel {
  checkQueue(queue: string, cb: (error: Error | null, ok: { messageCount: number }) => void): void;
  close(cb: (error?: Error | null) => void): void;
  on(event: "error" | "close", listener: (error?: Error) => void): void;
}
interface CallbackConnection {
  createChannel(cb: (error: Error | null, channel: CallbackChannel) => void): void;
  close(cb: (error?: Error | null) => void): void;
  on(event: "error" | "close", listener: (error?: Error) => void): void;
}

/** Lists the queues of Rascal's resolved config, namespaced names included. */
export function watchedQueues(broker: BrokerAsPromised): WatchedQueue[] {
  const { vhosts } = resolvedConfig(broker);
  const several = Object.keys(vhosts).length > 1;
  return Object.entries(vhosts).flatMap(([vhost, config]) =>
    Object.entries(config.queues ?? {}).map(([name, queue]) => ({
      vhost,
      // One vhost is the common case: label with the plain name; otherwise say which vhost.
      label: several ? `${vhost}/${name}` : name,
      fullName: queue.fullyQualifiedName,
    })),
  );
}

/** Starts refreshing the gauge right away and then every `intervalMs`. */
export function watchQueueDepths(options: {
  broker: BrokerAsPromised;
  gauge: Metrics["queueMessages"];
  intervalMs: number;
  log: Logger;
}): QueueDepthWatcher {
  const { broker, gauge, log } = options;
  const queues = watchedQueues(broker);
  const connections = new Map<string, Promise<CallbackConnection>>();
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let warned = false;

  const connection = (vhost: string): Promise<CallbackConnection> => {
    let pending = connections.get(vhost);
    if (!pending) {
      pending = broker.connect(vhost).then((raw) => {
        const opened = raw as unknown as CallbackConnection;
        // A lost connection is reopened at the next refresh.
        const forget = () => connections.delete(vhost);
        opened.on("error", forget);
        opened.on("close", forget);
        return opened;
      });
      pending.catch(() => connections.delete(vhost));
      connections.set(vhost, pending);
    }
    return pending;
  };

  /** Returns the first failure, if any. */
  const refreshVhost = async (
    vhost: string,
    members: WatchedQueue[],
  ): Promise<{ queue: string; error: string } | undefined> => {
    let channel: CallbackChannel | undefined;
    let failure: { queue: string; error: string } | undefined;
    for (const queue of members) {
      try {
        channel ??= await openChannel(await connection(vhost));
        gauge.set({ queue: queue.label }, (await checkQueue(channel, queue.fullName)).messageCount);
      } catch (error) {
        // No stale number: an absent series is what alerting on a missing queue looks for.
        gauge.remove({ queue: queue.label });
        // A failed check closes the channel on the broker's side; the next queue gets a new one.
        channel = undefined;
        failure ??= { queue: queue.label, error: (error as Error).message };
      }
    }
    if (channel) closeQuietly(channel);
    return failure;
  };

  const refresh = () =>
    (running ??= (async () => {
      const vhosts = [...new Set(queues.map((queue) => queue.vhost))];
      const failures = await Promise.all(
        vhosts.map((vhost) =>
          refreshVhost(
            vhost,
            queues.filter((queue) => queue.vhost === vhost),
          ),
        ),
      );
      const failure = failures.find(Boolean);
      // Once per outage, not once per queue and interval.
      if (failure && !warned) log.warn({ err: failure.error, queue: failure.queue }, "queue depth not readable");
      warned = failure !== undefined;
    })().finally(() => {
      running = undefined;
    }));

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => refresh().finally(schedule), options.intervalMs);
    // The gauge must never keep a finished process alive.
    timer.unref();
  };
  refresh().finally(schedule);

  return {
    refresh,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => {});
      for (const pending of connections.values()) {
        const opened = await pending.catch(() => undefined);
        if (opened) await new Promise<void>((resolve) => opened.close(() => resolve()));
      }
      connections.clear();
    },
  };
}

function openChannel(connection: CallbackConnection): Promise<CallbackChannel> {
  return new Promise((resolve, reject) => {
    connection.createChannel((error, channel) => {
      if (error) return reject(error);
      // The 404 of a missing queue arrives as a channel error too; the callback reports it.
      channel.on("error", () => {});
      resolve(channel);
    });
  });
}

function checkQueue(channel: CallbackChannel, queue: string): Promise<{ messageCount: number }> {
  return new Promise((resolve, reject) => {
    channel.checkQueue(queue, (error, ok) => (error ? reject(error) : resolve(ok)));
  });
}

function closeQuietly(channel: CallbackChannel): void {
  try {
    channel.close(() => {});
  } catch {
    // Already closed by the broker.
  }
}
