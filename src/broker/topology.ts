import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import builtInTopology from "../../rascal.json";
import { DEFAULT_ORDER_TIMEOUT_MS } from "../config";
import { child, confirmedPublication, delayQueueArguments, fanoutInto } from "./declare";
import { type ConcurrencyPlan, expandRetryLadder, expandWaitQueue, type RetryLadder } from "./retry-ladder";

/**
 * Reads rascal.json, removes the `pipeline` section (Rascal would reject it) and turns it into
 * plain Rascal topology: retry ladders, the dead-letter queue and the order-timeout delay.
 */

export const ORDER_PUBLICATION = "order_created";
export const ORDER_SUBSCRIPTION = "process_order";
export const DEAD_LETTER_PUBLICATION = "dead_letter";
export const DEAD_LETTER_SUBSCRIPTION = "dead_letters";
export const ORDER_TIMEOUT_PUBLICATION = "order_timeout";
export const ORDER_TIMEOUT_SUBSCRIPTION = "expire_orders";

export class TopologyError extends Error {
  override name = "TopologyError";
}

export interface SubscriptionPlan {
  name: string;
  /** Handler file name, or undefined for the runtime's own subscriptions. */
  handler?: string;
  queue: string;
  vhost: string;
  retry: RetryLadder;
  /** `pipeline.timeouts.<subscription>`: an attempt still running then fails (see MessageProcessor). */
  timeoutMs?: number;
  /** `pipeline.concurrency.<subscription>`, with the wait queue its held-back messages go to. */
  concurrency?: ConcurrencyPlan;
  /** `pipeline.rateLimits.<subscription>`: handler starts per second across all replicas. */
  rateLimit?: { perSecond: number };
  /** The subscription's prefetch, when rascal.json sets one. */
  prefetch?: number;
}

export interface Topology {
  /** Where the topology came from: a file path or "built-in". */
  source: string;
  /** Plain Rascal config, ready for `BrokerAsPromised.create`. */
  rascal: RascalConfig;
  /** Subscriptions that run handlers, keyed by subscription name. */
  handlerSubscriptions: SubscriptionPlan[];
  /** The vhost carrying the order queue (dead letters and timeouts live there too). */
  orderVhost: string;
  /** Every queue declared, for depth gauges. */
  queues: string[];
}

export type RascalConfig = Record<string, unknown> & {
  vhosts: Record<string, Record<string, unknown>>;
  publications: Record<string, unknown>;
  subscriptions: Record<string, Record<string, unknown>>;
};

const retrySchema = z.strictObject({
  delays: z.array(z.number().int().min(1)).min(1).max(50),
  maxAttempts: z.number().int().min(1).max(1000).optional(),
});

const pipelineSchema = z
  .strictObject({
    retries: z.record(z.string(), retrySchema).default({}),
    /** Ladder for handler subscriptions without their own entry in `retries`. */
    defaultRetry: retrySchema.default({ delays: [1000, 5000, 30000] }),
    /** Milliseconds an attempt of a subscription's handler may run. */
    timeouts: z.record(z.string(), z.number().int().min(1).max(86_400_000)).default({}),
    /** At most `limit` messages with the same value of the message's field `key` run at once. */
    concurrency: z
      .record(
        z.string(),
        z.strictObject({
          key: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "must name a top-level field of the message JSON"),
          limit: z.number().int().min(1).max(10_000),
        }),
      )
      .default({}),
    /** At most `perSecond` handler starts per second. */
    rateLimits: z.record(z.string(), z.strictObject({ perSecond: z.number().min(0.01).max(100_000) })).default({}),
  })
  .default({
    retries: {},
    defaultRetry: { delays: [1000, 5000, 30000] },
    timeouts: {},
    concurrency: {},
    rateLimits: {},
  });

/** The subscription keys the runtime's consumers honour; Rascal knows more, which would be ignored. */
const SUBSCRIPTION_KEYS = ["vhost", "queue", "handler", "prefetch", "contentType", "options"];
/** The publication keys the runtime's publisher honours. */
const PUBLICATION_KEYS = ["vhost", "exchange", "queue", "routingKey", "confirm", "options"];
/** Why a key Rascal knows is refused, where there is more to say than that it is not honoured. */
const REFUSED_KEYS: Record<string, string> = {
  retry:
    "Rascal's re-subscription backoff is not used (consumers reconnect on their own); " +
    "message retries go in pipeline.retries",
  recovery: "Rascal's recovery strategies are not used; message retries go in pipeline.retries",
  redeliveries: "the redelivery limit is the queue's x-delivery-limit argument",
  closeTimeout: "shutdown waits SHUTDOWN_TIMEOUT_MS for running handlers",
  timeout: "every publish waits for the broker's confirm for the service's own confirm timeout",
  encryption: "encrypted messages are not supported",
};

/** Refuses a key of a subscription or publication that the runtime would silently ignore. */
function refuseUnhonouredKeys(
  entry: Record<string, unknown>,
  where: string,
  honoured: readonly string[],
  fail: (key: string, message: string) => never,
): void {
  for (const key of Object.keys(entry)) {
    if (honoured.includes(key)) continue;
    const why = REFUSED_KEYS[key] ?? `the runtime honours only ${honoured.join(", ")}`;
    fail(`${where}.${key}`, `is not supported: ${why}`);
  }
}

export interface TopologyOptions {
  /** RASCAL_CONFIG; when unset, ./rascal.json if present, else the built-in copy. */
  path?: string;
  /** AMQP_URL when explicitly set: replaces every vhost's connection. */
  amqpUrlOverride?: string;
  /** Connection for vhosts that declare none. */
  defaultAmqpUrl: string;
  /** Test isolation: Rascal prefixes every queue and exchange name with this. */
  namespace?: string;
  /** Overrides for the config (tests): merged over the file's content before expansion. */
  transform?: (config: RascalConfig) => void;
  /** ORDER_TIMEOUT_MS: the delay of the order-timeout queue, which is named after it. */
  orderTimeoutMs?: number;
}

/** Loads and expands the topology; throws TopologyError naming the file and key on bad input. */
export function loadTopology(options: TopologyOptions): Topology {
  const { source, raw } = readSource(options.path);
  const config = structuredClone(raw) as RascalConfig;
  options.transform?.(config);
  return expandTopology(config, source, options);
}

function readSource(path: string | undefined): { source: string; raw: unknown } {
  const candidate = path ?? (existsSync("./rascal.json") ? "./rascal.json" : undefined);
  if (!candidate) return { source: "built-in rascal.json", raw: builtInTopology };
  const file = resolve(candidate);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new TopologyError(`${file}: cannot read topology file (${(error as Error).message})`);
  }
  try {
    return { source: file, raw: JSON.parse(text) };
  } catch (error) {
    throw new TopologyError(`${file}: not valid JSON (${(error as Error).message})`);
  }
}

export function expandTopology(config: RascalConfig, source: string, options: TopologyOptions): Topology {
  const fail = (key: string, message: string): never => {
    throw new TopologyError(`${source}: ${key}: ${message}`);
  };
  if (!isObject(config)) fail("(root)", "must be a JSON object");
  if (!isObject(config.vhosts) || Object.keys(config.vhosts).length === 0)
    fail("vhosts", "must declare at least one vhost");
  config.publications = isObject(config.publications) ? config.publications : {};
  config.subscriptions = isObject(config.subscriptions) ? config.subscriptions : {};
  delete config.$schema;

  const parsedPipeline = pipelineSchema.safeParse(config.pipeline);
  if (!parsedPipeline.success) {
    const issue = parsedPipeline.error.issues[0]!;
    fail(["pipeline", ...issue.path].join("."), issue.message);
  }
  const pipeline = parsedPipeline.data!;
  delete config.pipeline;

  for (const [name, vhost] of Object.entries(config.vhosts)) {
    if (!isObject(vhost)) fail(`vhosts.${name}`, "must be an object");
    if (options.amqpUrlOverride) {
      // AMQP_URL is *the* connection: it replaces a list of cluster hosts too.
      const urls = options.amqpUrlOverride.split(",").map((url) => url.trim());
      if (urls.length === 1) {
        vhost.connection = { ...(isObject(vhost.connection) ? vhost.connection : {}), url: urls[0] };
        delete vhost.connections;
      } else {
        // A cluster's nodes: Rascal resolves each, and every connection fails over among them.
        vhost.connections = urls;
        delete vhost.connection;
      }
    } else if (!vhost.connection && !vhost.connections) vhost.connection = { url: options.defaultAmqpUrl };
    if (options.namespace) vhost.namespace = options.namespace;
  }

  checkPublicationTargets(config, fail);

  const orderPublication = config.publications[ORDER_PUBLICATION];
  if (!isObject(orderPublication))
    fail(`publications.${ORDER_PUBLICATION}`, "is required: the intake publishes every order through it");
  const orderSubscription = config.subscriptions[ORDER_SUBSCRIPTION];
  if (!isObject(orderSubscription)) fail(`subscriptions.${ORDER_SUBSCRIPTION}`, "is required: it consumes the orders");

  for (const section of ["retries", "timeouts", "concurrency", "rateLimits"] as const) {
    for (const name of Object.keys(pipeline[section])) {
      if (!config.subscriptions[name]) fail(`pipeline.${section}.${name}`, "names no subscription in subscriptions");
    }
  }

  const handlerSubscriptions: SubscriptionPlan[] = [];
  for (const [name, subscription] of Object.entries(config.subscriptions)) {
    if (!isObject(subscription)) fail(`subscriptions.${name}`, "must be an object");
    refuseUnhonouredKeys(subscription, `subscriptions.${name}`, SUBSCRIPTION_KEYS, fail);
    const handler = subscription.handler;
    if (typeof handler !== "string" || !/^[A-Za-z0-9_-]+$/.test(handler)) {
      fail(`subscriptions.${name}.handler`, "must name a handler file in handlers/ (letters, digits, - and _)");
    }
    const queue = subscription.queue;
    if (typeof queue !== "string") fail(`subscriptions.${name}.queue`, "must name a queue");
    const vhost = vhostOfQueue(config, queue as string, subscription.vhost, (message) =>
      fail(`subscriptions.${name}`, message),
    );
    const declared = pipeline.retries[name] ?? pipeline.defaultRetry;
    const retry = expandRetryLadder(
      {
        subscription: name,
        queue: queue as string,
        vhost,
        delays: declared.delays,
        maxAttempts: declared.maxAttempts ?? declared.delays.length + 1,
      },
      config.vhosts[vhost]!,
      config.publications,
    );
    // Manual acknowledgement is what makes at-least-once possible; Rascal's default is manual too.
    subscription.vhost = vhost;
    const timeoutMs = pipeline.timeouts[name];
    const concurrency = pipeline.concurrency[name];
    const rateLimit = pipeline.rateLimits[name];
    const prefetch = subscription.prefetch;
    handlerSubscriptions.push({
      name,
      handler: handler as string,
      queue: queue as string,
      vhost,
      retry,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(concurrency
        ? {
            concurrency: expandWaitQueue({ ...concurrency, ladder: retry }, config.vhosts[vhost]!, config.publications),
          }
        : {}),
      ...(rateLimit ? { rateLimit } : {}),
      ...(typeof prefetch === "number" ? { prefetch } : {}),
    });
  }

  const orderVhost = handlerSubscriptions.find((plan) => plan.name === ORDER_SUBSCRIPTION)!.vhost;
  addDeadLetterTopology(config, orderVhost);
  addOrderTimeoutTopology(config, orderVhost, options.orderTimeoutMs ?? DEFAULT_ORDER_TIMEOUT_MS);

  const queues = Object.entries(config.vhosts).flatMap(([, vhost]) =>
    isObject(vhost.queues) ? Object.keys(vhost.queues) : [],
  );
  return { source, rascal: config, handlerSubscriptions, orderVhost, queues };
}

/** Dead letters: a fanout exchange and a quorum queue, consumed by the runtime's recorder. */
function addDeadLetterTopology(config: RascalConfig, vhost: string): void {
  const target = config.vhosts[vhost]!;
  child(target, "queues").dead_letters ??= { options: { durable: true, arguments: { "x-queue-type": "quorum" } } };
  fanoutInto(target, "dead_letters", "dead_letters");
  config.publications[DEAD_LETTER_PUBLICATION] ??= confirmedPublication(vhost, { exchange: "dead_letters" });
  config.subscriptions[DEAD_LETTER_SUBSCRIPTION] ??= { vhost, queue: "dead_letters", prefetch: 16 };
}

/**
 * Order timeouts: a message waits in `orders.timeout.<ms>ms` for ORDER_TIMEOUT_MS (the queue's
 * TTL), then dead-letters into `orders.expired`, whose consumer ends the order `expired` if it
 * is still open. The queue is named after its delay like the retry tiers: RabbitMQ expires
 * messages only from the head of a queue, so a longer timeout queued ahead (before
 * ORDER_TIMEOUT_MS was lowered, or from a replica configured otherwise) would hold back every
 * shorter one behind it. Each value gets its own queue, where all messages wait equally long.
 */
function addOrderTimeoutTopology(config: RascalConfig, vhost: string, orderTimeoutMs: number): void {
  const target = config.vhosts[vhost]!;
  const queues = child(target, "queues");
  const timeoutQueue = `orders.timeout.${orderTimeoutMs}ms`;
  queues[timeoutQueue] ??= {
    options: {
      durable: true,
      arguments: delayQueueArguments(orderTimeoutMs, "order_timeouts"),
    },
  };
  queues["orders.expired"] ??= { options: { durable: true, arguments: { "x-queue-type": "quorum" } } };
  fanoutInto(target, "order_timeouts", "orders.expired");
  config.publications[ORDER_TIMEOUT_PUBLICATION] ??= confirmedPublication(vhost, { queue: timeoutQueue });
  config.subscriptions[ORDER_TIMEOUT_SUBSCRIPTION] ??= { vhost, queue: "orders.expired", prefetch: 16 };
}

/**
 * Every publication names an exchange or queue its vhost declares. Rascal itself fails on an
 * undeclared exchange with an internal error that names neither the file nor the key.
 */
function checkPublicationTargets(config: RascalConfig, fail: (key: string, message: string) => never): void {
  for (const [name, publication] of Object.entries(config.publications)) {
    if (!isObject(publication)) fail(`publications.${name}`, "must be an object");
    refuseUnhonouredKeys(publication, `publications.${name}`, PUBLICATION_KEYS, fail);
    const vhostName = typeof publication.vhost === "string" ? publication.vhost : "/";
    const vhost = config.vhosts[vhostName];
    if (!vhost) fail(`publications.${name}.vhost`, `vhost "${vhostName}" is not declared in vhosts`);
    for (const kind of ["exchange", "queue"] as const) {
      const target = publication[kind];
      // "" is the default exchange, which every vhost has.
      if (typeof target !== "string" || target === "") continue;
      if (!declaredNames(vhost[`${kind}s`]).includes(target)) {
        fail(`publications.${name}.${kind}`, `${kind} "${target}" is not declared in vhosts.${vhostName}.${kind}s`);
      }
    }
  }
}

/** The names in a vhost's `exchanges` or `queues`, declared as an object or as a list. */
function declaredNames(declared: unknown): string[] {
  if (Array.isArray(declared))
    return declared.map((entry) => (typeof entry === "string" ? entry : isObject(entry) ? String(entry.name) : ""));
  return isObject(declared) ? Object.keys(declared) : [];
}

function vhostOfQueue(
  config: RascalConfig,
  queue: string,
  declared: unknown,
  fail: (message: string) => never,
): string {
  if (typeof declared === "string") {
    if (!config.vhosts[declared]) fail(`vhost "${declared}" is not declared in vhosts`);
    return declared;
  }
  const holders = Object.entries(config.vhosts)
    .filter(([, vhost]) => isObject(vhost.queues) && queue in vhost.queues)
    .map(([name]) => name);
  if (holders.length === 1) return holders[0]!;
  return fail(
    holders.length === 0
      ? `queue "${queue}" is not declared in any vhost`
      : `queue "${queue}" exists in several vhosts: set "vhost"`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
