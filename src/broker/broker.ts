import { BrokerAsPromised } from "rascal";
import { withDeadline } from "../deadline";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { Publications, type PublishOptions } from "./publications";
import { type OnDelivery, QueueConsumers } from "./queue-consumers";
import { type DepthReading, QueueDepths } from "./queue-depth";
import { redeclareQueue } from "./redeclare-queue";
import { type ResolvedConfig, resolvedConfig, vhostUrls } from "./resolved-config";
import { type Topology, TopologyError } from "./topology";

/** How long a publish waits for the broker's confirm before it fails (and the intake answers 503). */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 5000;

export interface BrokerOptions {
  topology: Topology;
  log: Logger;
  /** Default DEFAULT_CONFIRM_TIMEOUT_MS. */
  confirmTimeoutMs?: number;
  /** Counts confirmed publishes in `messages_published_total`. */
  metrics?: Pick<Metrics, "messagesPublished">;
}

/** What the runtime and the intake need to publish: the part of the Broker they get. */
export type Publisher = Pick<Broker, "publish" | "declares" | "canPublish">;

/**
 * The service's one boundary to RabbitMQ: declare, publish, consume, queue depth, readiness,
 * close. Rascal validates rascal.json and declares it on the broker; then its connection is
 * closed, and everything at run time goes over connections of the service's own (a pipelined
 * confirm channel per vhost for publishing, a connection per vhost for consuming and one for
 * queue depths), each reconnecting with backoff and failing over among a cluster's nodes.
 */
export class Broker {
  private readonly log: Logger;
  private declared?: { config: ResolvedConfig; publications: Publications; depths: QueueDepths };
  private readonly consumers = new Map<string, QueueConsumers>();
  private probing?: Promise<boolean>;

  /** Nothing is connected until `declare`. */
  constructor(private readonly options: BrokerOptions) {
    this.log = options.log;
  }

  /**
   * Declares rascal.json on the broker through Rascal, which validates it first (its messages
   * name the offending key; a queue that differs from rascal.json is named with both values).
   * Rejects with a TopologyError for a topology the broker refuses, with the connection's error
   * when the broker cannot be reached.
   */
  async declare(): Promise<void> {
    const { topology, log, metrics } = this.options;
    let rascal: BrokerAsPromised;
    try {
      rascal = await BrokerAsPromised.create(topology.rascal as never);
    } catch (error) {
      throw describeStartupError(error as Error & { code?: number }, topology);
    }
    // A connection Rascal loses while shutting down must not surface as an unhandled 'error'.
    rascal.on("error", (error: Error) => log.debug({ err: error.message }, "rascal error after declaring"));
    const config = resolvedConfig(rascal);
    await rascal.shutdown();
    const confirmTimeoutMs = this.options.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
    this.declared = {
      config,
      publications: new Publications({ config, confirmTimeoutMs, log, metrics }),
      depths: new QueueDepths({ config, log }),
    };
  }

  /** rascal.json as Rascal resolved it: namespaced names, connection URLs, defaults filled in. */
  get config(): ResolvedConfig {
    return this.declaration().config;
  }

  private get publications(): Publications {
    return this.declaration().publications;
  }

  private get depths(): QueueDepths {
    return this.declaration().depths;
  }

  private declaration(): NonNullable<Broker["declared"]> {
    if (!this.declared) throw new Error("the broker's topology is not declared yet");
    return this.declared;
  }

  /** The connection URLs of a vhost, in the order they are tried. */
  urls(vhost: string): string[] {
    return vhostUrls(this.config, vhost);
  }

  /** Opens the confirm channels; rejects when the broker cannot be reached now. */
  openPublisher(): Promise<void> {
    return this.publications.open();
  }

  /**
   * Publishes through a publication of rascal.json; resolves once the broker confirmed the
   * message and routed it, rejects with a PublishError otherwise (see Publications).
   */
  publish(publication: string, payload: unknown, options: PublishOptions): Promise<void> {
    return this.publications.publish(publication, payload, options);
  }

  /** Whether rascal.json declares this publication. */
  declares(publication: string): boolean {
    return this.publications.declares(publication);
  }

  /** Every confirm channel is connected and not blocked by a resource alarm. */
  get canPublish(): boolean {
    return this.declared?.publications.ready ?? false;
  }

  /** Registers the handling of a subscription's deliveries; consuming begins with `startConsuming`. */
  consume(subscription: string, onDelivery: OnDelivery): void {
    const resolved = this.config.subscriptions[subscription];
    const urls = resolved ? this.urls(resolved.vhost) : [];
    if (!resolved || urls.length === 0)
      throw new Error(`subscription ${subscription} has no connection to consume from`);
    let consumers = this.consumers.get(resolved.vhost);
    if (!consumers) {
      consumers = new QueueConsumers({
        urls,
        name: `order-pipeline consumers (${resolved.vhost})`,
        log: this.log,
        redeclare: (channel, lost) => redeclareQueue(channel, this.config, lost),
      });
      this.consumers.set(resolved.vhost, consumers);
    }
    consumers.add(resolved, onDelivery);
  }

  /** Connects the consumers and consumes every registered subscription. */
  async startConsuming(): Promise<void> {
    for (const consumers of this.consumers.values()) await consumers.start();
  }

  /** No new deliveries; running ones can still be settled until `closeConsumers`. */
  async stopConsuming(): Promise<void> {
    await Promise.all([...this.consumers.values()].map((consumers) => consumers.cancel()));
  }

  /** Sends pending acks and closes the consumers; unsettled deliveries return to their queues. */
  async closeConsumers(): Promise<void> {
    await Promise.all([...this.consumers.values()].map((consumers) => consumers.close()));
  }

  /** The depth of every queue of rascal.json. */
  readQueueDepths(): Promise<DepthReading[]> {
    return this.depths.read();
  }

  /** Publishing works and every registered subscription is consumed (as far as the connections know). */
  get ready(): boolean {
    return this.canPublish && [...this.consumers.values()].every((consumers) => consumers.ready);
  }

  /**
   * Whether the broker answers a round trip within `deadlineMs`: a connected broker that has
   * stalled keeps `ready` true. Callers at the same time share one round trip.
   */
  answers(deadlineMs: number): Promise<boolean> {
    if (!this.declared) return Promise.resolve(false);
    const depths = this.declared.depths;
    this.probing ??= withDeadline(depths.probe(), deadlineMs).finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  async close(): Promise<void> {
    await this.closeConsumers();
    if (this.declared) await Promise.all([this.declared.publications.close(), this.declared.depths.close()]);
  }
}

/** The delay queues the service adds to rascal.json: retry tiers, wait queues, order timeouts. */
const DELAY_QUEUE = /\.(retry|wait)\.\d+ms$|^orders\.timeout\.\d+ms$/;

/** Turns Rascal's and RabbitMQ's start-up errors into messages naming the file and key. */
function describeStartupError(error: Error & { code?: number }, topology: Topology): Error {
  const message = error.message ?? String(error);
  if (error.code === 406 || /PRECONDITION_FAILED/.test(message)) {
    const match = /inequivalent arg '([^']+)' for queue '([^']+)'[^:]*: received (.*?) but current is (.*?)"?$/.exec(
      message,
    );
    const value = (text: string) =>
      text
        .replace(/^the value /, "")
        .replace(/ of type .*$/, "")
        .replace(/^'(.*)'$/, "$1");
    const queue = match?.[2] ?? "";
    // Rascal names a namespaced queue `<namespace>:<name>`.
    const delayQueue = DELAY_QUEUE.test(queue.slice(queue.indexOf(":") + 1));
    const detail = match
      ? `queue "${queue}" already exists with ${match[1]} = ${value(match[4]!)}, ` +
        `but ${delayQueue ? "the service" : "rascal.json"} declares ${value(match[3]!)}`
      : message;
    const remedy = delayQueue
      ? "It is a delay queue the service declares itself, a quorum queue since this version: stop every " +
        "replica, wait until it is empty (its messages move on as their delay ends), delete it " +
        `(rabbitmqctl delete_queue '${queue}'), then start again (README, "Upgrading")`
      : "Delete the queue or change rascal.json to match";
    return new TopologyError(`${topology.source}: topology differs from the broker: ${detail}. ${remedy}.`);
  }
  if (/unsupported attribute|refers to an unknown|is missing|must be|Invalid|Duplicate/.test(message)) {
    return new TopologyError(`${topology.source}: rejected by Rascal: ${message}`);
  }
  return error;
}
