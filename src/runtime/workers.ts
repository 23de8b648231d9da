import type { ConsumeMessage } from "amqplib";
import type { BrokerAsPromised } from "rascal";
import { QueueConsumers, type OnDelivery, type Settlement } from "../broker/queue-consumers";
import { redeclareQueue } from "../broker/redeclare-queue";
import { resolvedConfig, vhostUrls, type ResolvedConfig } from "../broker/resolved-config";
import type { SubscriptionPlan } from "../broker/topology";
import type { Handler } from "../handler";
import type { Logger } from "../log";
import { sleep } from "./backoff";
import { MessageProcessor, type IncomingMessage, type ProcessorDeps } from "./message-processor";

/** A consumer the runtime runs itself (dead-letter recorder, order expiry). */
export interface InternalConsumer {
  subscription: string;
  handle: (message: IncomingMessage, content: unknown) => Promise<void>;
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
  /** The consumers of each vhost, on a connection of their own. */
  private readonly consumers = new Map<string, QueueConsumers>();
  private readonly inFlight = new Set<Promise<Settlement>>();
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

  /** Every subscription is being consumed. */
  get ready(): boolean {
    return [...this.consumers.values()].every((consumers) => consumers.ready);
  }

  async start(): Promise<void> {
    const deps: ProcessorDeps = { ...this.deps, shutdown: this.abort.signal };
    const config = resolvedConfig(this.broker);
    this.deps.ledger.startAliveSignal();
    for (const plan of this.plans) {
      const processor = new MessageProcessor(
        plan,
        this.handlers.get(plan.handler!)!,
        plan.name === this.orderSubscription,
        deps,
      );
      this.consume(config, plan.name, (message, content, invalid) =>
        invalid ? processor.invalidContent(message, invalid) : processor.process(message, content),
      );
    }
    for (const consumer of this.internal) {
      this.consume(config, consumer.subscription, (message, content, invalid) =>
        this.runInternal(consumer, message, invalid ? undefined : content),
      );
    }
    for (const consumers of this.consumers.values()) await consumers.start();
  }

  /** Stops consuming, waits up to `timeoutMs` for in-flight handlers, then lets the rest go back. */
  async stop(timeoutMs: number): Promise<void> {
    const all = [...this.consumers.values()];
    await Promise.race([Promise.all(all.map((consumers) => consumers.cancel())), sleep(CANCEL_WAIT_MS)]);
    await Promise.race([Promise.allSettled([...this.inFlight]), sleep(timeoutMs)]);
    const unfinished = this.inFlight.size;
    this.abort.abort();
    if (unfinished > 0) {
      this.log.warn({ unfinished }, "shutdown timeout: unfinished messages return to their queues");
      await Promise.race([Promise.allSettled([...this.inFlight]), sleep(ABORT_GRACE_MS)]);
    }
    await Promise.all(all.map((consumers) => consumers.close()));
    // Whatever is still unfinished returns to the queue: let the next worker claim it at once.
    await this.deps.ledger.stopAliveSignal();
  }

  private consume(config: ResolvedConfig, name: string, handle: OnDelivery): void {
    const subscription = config.subscriptions[name];
    const urls = subscription ? vhostUrls(config, subscription.vhost) : [];
    if (!subscription || urls.length === 0) throw new Error(`subscription ${name} has no connection to consume from`);
    let consumers = this.consumers.get(subscription.vhost);
    if (!consumers) {
      consumers = new QueueConsumers(
        urls,
        `order-pipeline consumers (${subscription.vhost})`,
        this.log,
        (channel, lost) => redeclareQueue(channel, config, lost),
      );
      this.consumers.set(subscription.vhost, consumers);
    }
    consumers.add(subscription, (message: ConsumeMessage, content: unknown, invalid?: Error) => {
      const work = handle(message, content, invalid);
      this.inFlight.add(work);
      const forget = () => this.inFlight.delete(work);
      work.then(forget, forget);
      return work;
    });
  }

  private async runInternal(
    consumer: InternalConsumer,
    message: IncomingMessage,
    content: unknown,
  ): Promise<Settlement> {
    try {
      await consumer.handle(message, content);
      this.deps.metrics.messagesConsumed.inc({ subscription: consumer.subscription, outcome: "completed" });
      return "ack";
    } catch (error) {
      this.log.warn(
        { err: error, subscription: consumer.subscription },
        "internal consumer failed; the message goes back to its queue",
      );
      // Do not spin on a broken dependency: give it a moment before the redelivery.
      await sleep(1000);
      return "requeue";
    }
  }
}
