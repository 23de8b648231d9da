import type { ConsumeMessage } from "amqplib";
import type { Broker } from "../broker/broker";
import type { OnDelivery, Settlement } from "../broker/queue-consumers";
import type { SubscriptionPlan } from "../broker/topology";
import type { Handler } from "../handler";
import type { Logger } from "../log";
import type { ReplicationBarrier } from "../store/replication-barrier";
import { sleep } from "./backoff";
import { type IncomingMessage, MessageProcessor, type ProcessorDeps } from "./message-processor";

/** A consumer the runtime runs itself (dead-letter recorder, order expiry). */
export interface InternalConsumer {
  subscription: string;
  handle: (message: IncomingMessage, content: unknown) => Promise<void>;
}

export interface WorkersOptions {
  broker: Pick<Broker, "consume" | "startConsuming" | "stopConsuming" | "closeConsumers">;
  /** The subscriptions that run handlers, and their handlers by name. */
  plans: readonly SubscriptionPlan[];
  handlers: ReadonlyMap<string, Handler>;
  /** The subscription whose messages are orders (it drives their status). */
  orderSubscription: string;
  deps: Omit<ProcessorDeps, "shutdown">;
  internal: readonly InternalConsumer[];
  log: Logger;
  /** With Redis replicas: what a message's run wrote reaches one before the ack. */
  replication?: ReplicationBarrier;
}

/** How long the broker gets to confirm that consumers are cancelled before shutdown goes on. */
const CANCEL_WAIT_MS = 1000;
/** How long handlers told to stop (shutdown timeout reached) get before their channels close. */
const ABORT_GRACE_MS = 1000;

/**
 * Consumes every subscription of rascal.json into its handler and settles each message once.
 * On stop: no new deliveries, in-flight handlers get `timeoutMs` to finish, and whatever is
 * still unacknowledged then returns to its queue when the channels close.
 */
export class Workers {
  private readonly inFlight = new Set<Promise<Settlement>>();
  /** Deliveries not yet settled, by subscription. */
  private readonly unsettled = new Map<string, number>();
  private readonly abort = new AbortController();
  private draining?: { startedAt: number; done: Promise<void> };

  constructor(private readonly options: WorkersOptions) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async start(): Promise<void> {
    const { broker, plans, handlers, orderSubscription, internal } = this.options;
    const deps: ProcessorDeps = { ...this.options.deps, shutdown: this.abort.signal };
    deps.ledger.startAliveSignal();
    for (const plan of plans) {
      const handler = handlers.get(plan.handler!)!;
      const processor = new MessageProcessor(plan, handler, plan.name === orderSubscription, deps);
      this.consume(plan.name, (message, content, invalid) =>
        invalid ? processor.invalidContent(message, invalid) : processor.process(message, content),
      );
    }
    for (const consumer of internal) {
      this.consume(consumer.subscription, (message, content, invalid) =>
        this.runInternal(consumer, message, invalid ? undefined : content),
      );
    }
    await broker.startConsuming();
  }

  /** No new deliveries; the running ones go on. */
  drain(): Promise<void> {
    this.draining ??= {
      startedAt: performance.now(),
      done: Promise.race([this.options.broker.stopConsuming(), sleep(CANCEL_WAIT_MS)]),
    };
    return this.draining.done;
  }

  /**
   * Stops consuming and gives in-flight handlers until `timeoutMs` after the drain began (the
   * shutdown's whole budget, whatever else stopped meanwhile), then lets the rest go back.
   */
  async stop(timeoutMs: number): Promise<void> {
    const { broker, deps, log } = this.options;
    await this.drain();
    const remainingMs = Math.max(0, timeoutMs - (performance.now() - this.draining!.startedAt));
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(remainingMs)]);
    const unfinished = this.inFlight.size;
    this.abort.abort();
    // Order handlers' signals are their own (they also abort on a cancel): tell them too.
    deps.cancels?.abortAll(new Error("the service is shutting down"));
    if (unfinished > 0) {
      log.warn({ unfinished }, "shutdown timeout: unfinished messages return to their queues");
      await Promise.race([Promise.allSettled([...this.inFlight]), sleep(ABORT_GRACE_MS)]);
    }
    await broker.closeConsumers();
    await deps.ledger.stopAliveSignal();
    // Unfinished messages are back in their queues now; let other workers start them at once.
    const released = await deps.ledger.releaseHeld().catch(() => 0);
    if (released > 0) log.info({ released }, "released the claims of unfinished handlers");
  }

  /** Deliveries this process holds and has not settled yet, by subscription. */
  unsettledBySubscription(): ReadonlyMap<string, number> {
    return this.unsettled;
  }

  private consume(subscription: string, handle: OnDelivery): void {
    this.unsettled.set(subscription, 0);
    this.options.broker.consume(subscription, (message: ConsumeMessage, content: unknown, invalid?: Error) => {
      const { replication } = this.options;
      const handled = handle(message, content, invalid);
      const work = replication
        ? handled.then(async (settlement) => {
            if (settlement === "ack") await replication.wait();
            return settlement;
          })
        : handled;
      this.inFlight.add(work);
      this.unsettled.set(subscription, this.unsettled.get(subscription)! + 1);
      const forget = () => {
        this.inFlight.delete(work);
        this.unsettled.set(subscription, this.unsettled.get(subscription)! - 1);
      };
      work.then(forget, forget);
      return work;
    });
  }

  private async runInternal(
    consumer: InternalConsumer,
    message: IncomingMessage,
    content: unknown,
  ): Promise<Settlement> {
    const { deps, log } = this.options;
    try {
      await consumer.handle(message, content);
      deps.metrics.messagesConsumed.inc({ subscription: consumer.subscription, outcome: "completed" });
      return "ack";
    } catch (error) {
      log.warn(
        { err: error, subscription: consumer.subscription },
        "internal consumer failed; the message goes back to its queue",
      );
      // Do not spin on a broken dependency: give it a moment before the redelivery.
      await sleep(1000);
      return "requeue";
    }
  }
}
