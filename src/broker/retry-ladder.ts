/**
 * Expands the compact `pipeline.retries` declaration of rascal.json into plain Rascal
 * topology: one delay queue per tier (a fixed `x-message-ttl`, so messages never wait behind
 * longer ones), dead-lettering through a fanout exchange back into the work queue.
 */

export interface RetryDeclaration {
  /** Delay in milliseconds before each retry; the last one repeats if attempts remain. */
  delays: number[];
  /** Handler starts allowed before the message is dead-lettered; defaults to delays + 1. */
  maxAttempts?: number;
}

export interface RetryLadder {
  subscription: string;
  queue: string;
  vhost: string;
  delays: number[];
  maxAttempts: number;
  /** Publication names, one per tier, in the order of `delays`. */
  publications: string[];
  /** Publication that puts a message straight back into the work queue (replays). */
  requeuePublication: string;
}

type Json = Record<string, unknown>;

export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}ms`;
}

export function requeueExchangeName(queue: string): string {
  return `${queue}.requeue`;
}

/** Adds the ladder's exchanges, queues, bindings and publications to `vhostConfig` and `publications`. */
export function expandRetryLadder(
  ladder: Omit<RetryLadder, "publications" | "requeuePublication">,
  vhostConfig: Json,
  publications: Json,
): RetryLadder {
  const exchanges = ensureObject(vhostConfig, "exchanges");
  const queues = ensureObject(vhostConfig, "queues");
  const bindings = ensureObject(vhostConfig, "bindings");
  const requeue = requeueExchangeName(ladder.queue);

  exchanges[requeue] ??= { type: "fanout" };
  bindings[`${requeue} -> ${ladder.queue}`] ??= {
    source: requeue,
    destination: ladder.queue,
    destinationType: "queue",
  };

  const names = ladder.delays.map((delayMs, index) => {
    const queueName = retryQueueName(ladder.queue, delayMs);
    queues[queueName] ??= {
      options: {
        durable: true,
        arguments: { "x-message-ttl": delayMs, "x-dead-letter-exchange": requeue },
      },
    };
    const publication = `${ladder.subscription}.retry.${index + 1}`;
    publications[publication] = {
      vhost: ladder.vhost,
      queue: queueName,
      confirm: true,
      options: { persistent: true, mandatory: true },
    };
    return publication;
  });
  const requeuePublication = `${ladder.subscription}.requeue`;
  publications[requeuePublication] = {
    vhost: ladder.vhost,
    exchange: requeue,
    confirm: true,
    options: { persistent: true, mandatory: true },
  };
  return { ...ladder, publications: names, requeuePublication };
}

function ensureObject(parent: Json, key: string): Json {
  const existing = parent[key];
  if (existing && typeof existing === "object" && !Array.isArray(existing)) return existing as Json;
  const created: Json = {};
  parent[key] = created;
  return created;
}
