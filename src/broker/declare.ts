/** Small builders for the topology the runtime adds to rascal.json. */

type Json = Record<string, unknown>;

/** The object under `key`, created when missing. */
export function child(parent: Json, key: string): Json {
  const existing = parent[key];
  if (existing && typeof existing === "object" && !Array.isArray(existing)) return existing as Json;
  const created: Json = {};
  parent[key] = created;
  return created;
}

/** A fanout exchange delivering into `queue` (both declared unless rascal.json has them). */
export function fanoutInto(vhostConfig: Json, exchange: string, queue: string): void {
  child(vhostConfig, "exchanges")[exchange] ??= { type: "fanout" };
  child(vhostConfig, "bindings")[`${exchange} -> ${queue}`] ??= {
    source: exchange,
    destination: queue,
    destinationType: "queue",
  };
}

/** A publication whose messages are persistent, confirmed and must be routed. */
export function confirmedPublication(vhost: string, destination: { exchange: string } | { queue: string }): Json {
  return { vhost, ...destination, confirm: true, options: { persistent: true, mandatory: true } };
}

/**
 * The arguments of a delay queue the service declares (retry tiers, wait queues, order
 * timeouts): a quorum queue, replicated across a cluster's nodes like the work queues, whose
 * messages wait `delayMs` and then dead-letter into `exchange`. Dead-lettering stays
 * at-most-once: RabbitMQ 3.10's at-least-once strategy crashed its dead-letter worker when such a
 * queue was deleted and, about every other time, left the node refusing declares for a moment.
 */
export function delayQueueArguments(delayMs: number, exchange: string): Json {
  return { "x-queue-type": "quorum", "x-message-ttl": delayMs, "x-dead-letter-exchange": exchange };
}
