import type { Broker } from "../broker/broker";
import type { Topology } from "../broker/topology";
import type { ActivityStore } from "../store/activity";

export interface QueueView {
  name: string;
  /** Undefined when the broker could not be asked (the queue is gone, the broker is down). */
  messagesReady?: number;
  messagesUnacknowledged: number;
  consumers?: number;
  error?: string;
}

/**
 * Every queue of the topology: ready messages and consumers as the broker answers a passive
 * declare, unacknowledged ones as the service's worker processes report them (the deliveries
 * they hold; the broker tells AMQP clients nothing of those).
 */
export async function readQueues(options: {
  broker: Pick<Broker, "readQueueDepths">;
  topology: Topology;
  activity: ActivityStore;
}): Promise<QueueView[]> {
  const { broker, topology, activity } = options;
  const [depths, unsettled] = await Promise.all([broker.readQueueDepths(), activity.unsettled()]);
  const unacknowledged = new Map<string, number>();
  // Labelled as the depth readings are: the plain name, or `<vhost>/<name>` with several vhosts.
  const several = Object.keys(topology.rascal.vhosts).length > 1;
  for (const [name, subscription] of Object.entries(topology.rascal.subscriptions)) {
    const queue = several ? `${String(subscription.vhost)}/${String(subscription.queue)}` : String(subscription.queue);
    unacknowledged.set(queue, (unacknowledged.get(queue) ?? 0) + (unsettled.get(name) ?? 0));
  }
  return depths.map((reading) => {
    const name = reading.queue.label;
    const messagesUnacknowledged = unacknowledged.get(name) ?? 0;
    if ("error" in reading) return { name, messagesUnacknowledged, error: reading.error };
    return { name, messagesReady: reading.messages, messagesUnacknowledged, consumers: reading.consumers };
  });
}
