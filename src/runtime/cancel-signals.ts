import type { Logger } from "../log";
import { closeRedis, duplicateClient, type RedisClient } from "../store/redis";

/**
 * The Redis channel that carries cancel requests from the intake to the workers. ioredis does
 * not prefix channels as it does keys, so the key prefix is part of the name: deployments that
 * share a Redis under different prefixes do not hear each other.
 */
export function cancelChannel(keyPrefix: string | undefined): string {
  return `${keyPrefix ?? ""}order-cancel`;
}

/** Why a handler's `ctx.signal` aborted on a cancel request. */
export class CancelRequested extends Error {
  override name = "CancelRequested";
}

/**
 * Tells the handlers running in this process that their order was cancelled: the intake
 * publishes the order id on the cancel channel, and the watch of a running order aborts. A
 * request missed while Redis was unreachable still takes effect when the message comes back
 * (a retry, a redelivery): the claim finds it and ends the order cancelled.
 */
export class CancelSignals {
  private readonly running = new Map<string, Set<AbortController>>();
  private readonly subscriber: RedisClient;
  /** Set by `abortAll`: watches made after it start aborted. */
  private shutdownReason?: Error;

  constructor(private readonly options: { redis: RedisClient; channel: string; log: Logger }) {
    // A connection in subscriber mode can do nothing else.
    this.subscriber = duplicateClient(options.redis, { enableAutoPipelining: false });
    this.subscriber.on("error", (error: Error) =>
      options.log.debug({ err: error.message }, "redis error (cancel channel)"),
    );
    this.subscriber.on("message", (channel: string, orderId: string) => {
      if (channel !== options.channel) return;
      for (const controller of this.running.get(orderId) ?? [])
        controller.abort(new CancelRequested("order cancelled"));
    });
  }

  /** Shutdown: aborts every running handler's signal, and those of any run after. */
  abortAll(reason: Error): void {
    this.shutdownReason = reason;
    for (const controllers of this.running.values()) for (const controller of controllers) controller.abort(reason);
  }

  async start(): Promise<void> {
    if (this.subscriber.status !== "ready") await this.subscriber.connect();
    await this.subscriber.subscribe(this.options.channel);
  }

  async stop(): Promise<void> {
    await closeRedis(this.subscriber);
  }

  /**
   * The signal for one run of this order's handler: it aborts when a cancel of the order is
   * requested (reason: CancelRequested) or on `abortAll` (shutdown). `release` once the handler
   * settled. One controller per run, rather than AbortSignal.any over the shutdown signal,
   * which costs several times as much per message and leaves a listener on that signal each.
   */
  watch(orderId: string): { signal: AbortSignal; cancelled(): boolean; abort(reason: Error): void; release(): void } {
    const controller = new AbortController();
    if (this.shutdownReason) controller.abort(this.shutdownReason);
    let watching = this.running.get(orderId);
    if (!watching) {
      watching = new Set();
      this.running.set(orderId, watching);
    }
    watching.add(controller);
    return {
      signal: controller.signal,
      cancelled: () => controller.signal.reason instanceof CancelRequested,
      /** Aborts this run alone (its attempt timed out). */
      abort: (reason) => controller.abort(reason),
      release: () => {
        watching.delete(controller);
        if (watching.size === 0 && this.running.get(orderId) === watching) this.running.delete(orderId);
      },
    };
  }
}
