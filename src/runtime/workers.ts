import type { Message } from "amqplib";
import type { AckOrNack, BrokerAsPromised, SubscriberSessionAsPromised } from "rascal";
import type { SubscriptionPlan } from "../broker/topology";
import type { Handler } from "../handler";
import type { Logger } from "../log";
import { sleep } from "./backoff";
import { MessageProcessor, type IncomingMessage, type ProcessorDeps, type Settlement } from "./message-processor";

/** A consumer the runtime runs itself (dead-letter recorder, order expiry). */
export interface InternalConsumer {
  subscription: string;
  handle: (message: IncomingMessage, content: unknown) => Promise<void>;
}

/**
 * Subscribes every subscription of rascal.json to its handler and settles each message once.
 * On stop: no new deliveries, in-flight handlers get `timeoutMs` to finish, and whatever is
 * still unacknowledged then returns to its queue when the channels close.
 */
export class Workers {
  private readonly sessions: SubscriberSessionAsPromised[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly broker: BrokerAsPromised,
    private readonly plans: readonly SubscriptionPlan[],
    private readonly handlers: ReadonlyMap<string, Handler>,
    private readonly orderSubscription: string,
    private readonly deps: Omit<ProcessorDeps, "shutdown">,
    private readonly internal: readonly InternalConsumer[],
    private readonly log: Logger,
  ) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  async start(closeTimeoutMs: number): Promise<void> {
    const deps: ProcessorDeps = { ...this.deps, shutdown: this.abort.signal };
    this.deps.ledger.startAliveSignal();
    for (const plan of this.plans) {
      const processor = new MessageProcessor(plan, this.handlers.get(plan.handler!)!, plan.name === this.orderSubscription, deps);
      const session = await this.broker.subscribe(plan.name, { closeTimeout: closeTimeoutMs } as never);
      session.on("message", (message: Message, content: unknown, ackOrNack: AckOrNack) => {
        this.track(processor.process(message as IncomingMessage, content), ackOrNack, plan.name);
      });
      session.on("invalid_content", (error: Error, message: Message, ackOrNack: AckOrNack) => {
        this.track(processor.invalidContent(message as IncomingMessage, error), ackOrNack, plan.name);
      });
      this.watch(session, plan.name);
    }
    for (const consumer of this.internal) {
      const session = await this.broker.subscribe(consumer.subscription, { closeTimeout: closeTimeoutMs } as never);
      const settle = (message: Message, content: unknown, ackOrNack: AckOrNack) =>
        this.track(this.runInternal(consumer, message as IncomingMessage, content), ackOrNack, consumer.subscription);
      session.on("message", settle);
      session.on("invalid_content", (_error: Error, message: Message, ackOrNack: AckOrNack) => settle(message, undefined, ackOrNack));
      this.watch(session, consumer.subscription);
    }
  }

  /** Stops consuming, waits up to `timeoutMs` for in-flight handlers, then lets the rest go back. */
  async stop(timeoutMs: number): Promise<void> {
    const cancelled = Promise.allSettled(this.sessions.map((session) => session.cancel()));
    const drained = Promise.allSettled([...this.inFlight]);
    await Promise.race([drained, sleep(timeoutMs)]);
    if (this.inFlight.size > 0) this.log.warn({ unfinished: this.inFlight.size }, "shutdown timeout: unfinished messages return to their queues");
    this.abort.abort();
    await Promise.race([cancelled, sleep(1000)]);
    // Whatever is still unfinished returns to the queue: let the next worker claim it at once.
    await this.deps.ledger.stopAliveSignal();
  }

  private async runInternal(consumer: InternalConsumer, message: IncomingMessage, content: unknown): Promise<Settlement> {
    try {
      await consumer.handle(message, content);
      this.deps.metrics.messagesConsumed.inc({ subscription: consumer.subscription, outcome: "completed" });
      return "ack";
    } catch (error) {
      this.log.warn({ err: error, subscription: consumer.subscription }, "internal consumer failed; the message goes back to its queue");
      // Do not spin on a broken dependency: give it a moment before the redelivery.
      await sleep(1000);
      return "requeue";
    }
  }

  private track(work: Promise<Settlement>, ackOrNack: AckOrNack, subscription: string): void {
    const tracked = work
      .then((settlement) => {
        if (settlement === "ack") ackOrNack();
        else ackOrNack(new Error("requeued"), { strategy: "nack", requeue: true });
      })
      .catch((error: unknown) => {
        this.log.error({ err: error, subscription }, "message processing failed unexpectedly; requeued");
        ackOrNack(error as Error, { strategy: "nack", requeue: true });
      })
      .finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  private watch(session: SubscriberSessionAsPromised, subscription: string): void {
    session.on("error", (error: Error) => this.log.error({ err: error, subscription }, "subscription error"));
    this.sessions.push(session);
  }
}
