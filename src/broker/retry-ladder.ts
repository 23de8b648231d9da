/**
 * Expands the compact `pipeline.retries` declaration of rascal.json into plain Rascal
 * topology: one delay queue per tier (a quorum queue with a fixed `x-message-ttl`, so messages
 * never wait behind longer ones), dead-lettering through a fanout exchange back into the work queue.
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

import { child, confirmedPublication, delayQueueArguments, fanoutInto } from "./declare";

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
  const queues = child(vhostConfig, "queues");
  const requeue = requeueExchangeName(ladder.queue);
  fanoutInto(vhostConfig, requeue, ladder.queue);

  const names = ladder.delays.map((delayMs, index) => {
    const queueName = retryQueueName(ladder.queue, delayMs);
    queues[queueName] ??= {
      options: {
        durable: true,
        arguments: delayQueueArguments(delayMs, requeue),
      },
    };
    const publication = `${ladder.subscription}.retry.${index + 1}`;
    publications[publication] = confirmedPublication(ladder.vhost, { queue: queueName });
    return publication;
  });
  const requeuePublication = `${ladder.subscription}.requeue`;
  publications[requeuePublication] = confirmedPublication(ladder.vhost, { exchange: requeue });
  return { ...ladder, publications: names, requeuePublication };
}

/** How long a message held back by a concurrency limit waits in the broker before it is tried again. */
export const CONCURRENCY_WAIT_MS = 250;

export interface ConcurrencyPlan {
  /** The top-level field of the message JSON whose value shares the limit. */
  key: string;
  /** Messages with the same value that may run at once, across all replicas. */
  limit: number;
  /** Publication to the wait queue, from which a held-back message returns to the work queue. */
  waitPublication: string;
}

/**
 * The wait queue of a subscription with a concurrency limit: a delay queue like a retry tier
 * (`<queue>.wait.<ms>ms`, dead-lettering back through the ladder's requeue exchange), where a
 * message whose key is at its limit waits without holding a prefetch slot that other keys need.
 */
export function expandWaitQueue(
  options: { key: string; limit: number; ladder: RetryLadder },
  vhostConfig: Json,
  publications: Json,
): ConcurrencyPlan {
  const { ladder } = options;
  const queueName = `${ladder.queue}.wait.${CONCURRENCY_WAIT_MS}ms`;
  child(vhostConfig, "queues")[queueName] ??= {
    options: {
      durable: true,
      arguments: delayQueueArguments(CONCURRENCY_WAIT_MS, requeueExchangeName(ladder.queue)),
    },
  };
  const waitPublication = `${ladder.subscription}.wait`;
  publications[waitPublication] = confirmedPublication(ladder.vhost, { queue: queueName });
  return { key: options.key, limit: options.limit, waitPublication };
}
