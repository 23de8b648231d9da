import "../tracing-channel-shim";
import Redis, { Cluster } from "ioredis";
import type { Config } from "../config";
import { ConnectError } from "../connect-error";
import { withDeadline } from "../deadline";
import { type Logger, maskUrl } from "../log";

/** A connection to one Redis (or one behind Sentinel), or to a Redis Cluster. */
export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  url: string;
  /** With Sentinel: the sentinels, and the name of the master they watch; `url` gives db and password. */
  sentinels?: { host: string; port: number }[];
  sentinelMaster?: string;
  /** With Redis Cluster: the nodes to discover it from; `url` gives the password. */
  clusterNodes?: { host: string; port: number }[];
}

function hostPorts(list: string): { host: string; port: number }[] {
  return list.split(",").map((entry) => {
    const at = entry.lastIndexOf(":");
    return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
  });
}

export interface RedisOptions extends RedisTarget {
  /** Prepended to every key (tests use a random one per test). */
  keyPrefix?: string;
}

/** Where the configuration says Redis is: REDIS_URL, the master REDIS_SENTINELS watch, or REDIS_CLUSTER_NODES. */
export function redisTarget(
  config: Pick<Config, "REDIS_URL" | "REDIS_SENTINELS" | "REDIS_SENTINEL_MASTER" | "REDIS_CLUSTER_NODES">,
): RedisTarget {
  if (config.REDIS_CLUSTER_NODES) return { url: config.REDIS_URL, clusterNodes: hostPorts(config.REDIS_CLUSTER_NODES) };
  if (!config.REDIS_SENTINELS) return { url: config.REDIS_URL };
  return {
    url: config.REDIS_URL,
    sentinels: hostPorts(config.REDIS_SENTINELS),
    sentinelMaster: config.REDIS_SENTINEL_MASTER,
  };
}

/** For log lines: the URL with its password masked, the sentinels and their master, or the cluster's nodes. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: { host: string; port: number }[]) => nodes.map(({ host, port }) => `${host}:${port}`).join(",");
  if (target.clusterNodes) return `cluster nodes ${list(target.clusterNodes)}`;
  if (!target.sentinels) return maskUrl(target.url);
  return `sentinels ${list(target.sentinels)}, master ${target.sentinelMaster}`;
}

/** The user and password in a Redis URL, as ioredis options. */
function credentials(url: URL): { username?: string; password?: string } {
  return {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}

/**
 * Commands fail fast instead of queueing while Redis is unreachable: the intake must answer 503
 * rather than hang, and a worker must not ack without a dedup decision. Through Sentinel, a
 * failover is a short outage: the client asks the sentinels for the new master and reconnects,
 * also when the old one answers as a replica (READONLY) before it went down.
 */
export function createRedis(options: RedisOptions): RedisClient {
  const backoff = (times: number) => Math.min(100 * times, 1000);
  const perCommand = { maxRetriesPerRequest: 1, commandTimeout: 2000, connectTimeout: 2000 };
  const common = {
    ...perCommand,
    keyPrefix: options.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: backoff,
  };
  const url = new URL(options.url);
  if (options.clusterNodes) {
    // The cluster client finds every node and slot from these, follows MOVED/ASK and a
    // failover's new primary itself; per-node options go in redisOptions.
    return new Cluster(options.clusterNodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: backoff,
      slotsRefreshInterval: 2000,
      redisOptions: { ...perCommand, keyPrefix: options.keyPrefix, ...credentials(url) },
    });
  }
  if (!options.sentinels) return new Redis(options.url, common);
  return new Redis({
    ...common,
    sentinels: options.sentinels,
    name: options.sentinelMaster ?? "mymaster",
    db: Number(url.pathname.slice(1) || 0),
    ...credentials(url),
    sentinelRetryStrategy: backoff,
    reconnectOnError: (error: Error) => error.message.startsWith("READONLY"),
  });
}

/** Another connection to the same Redis, with the same options but auto-pipelining as given. */
export function duplicateClient(client: RedisClient, options: { enableAutoPipelining: boolean }): RedisClient {
  return client instanceof Cluster ? client.duplicate(undefined, options) : client.duplicate(options);
}

export function isRedisReady(redis: RedisClient): boolean {
  return redis.status === "ready";
}

/** QUIT, or a hard disconnect when Redis does not answer within a second (it may be gone). */
export async function closeRedis(client: RedisClient): Promise<void> {
  await Promise.race([client.quit().catch(() => undefined), Bun.sleep(1000)]);
  client.disconnect();
}

/**
 * The service's two Redis connections. The per-order scripts (intake's order record, workers'
 * claim and finish) share one with auto-pipelining: the scripts of all orders handled in one
 * turn of the event loop go to Redis in one write instead of one each. The other one serves
 * everything else, because ioredis' auto-pipelining does not mix with the MULTI that order
 * reads use.
 */
export class RedisConnections {
  readonly plain: RedisClient;
  readonly pipelined: RedisClient;
  /** The last error either connection reported: the reason a failed connect gives none of. */
  private lastError?: string;
  private pinging?: Promise<boolean>;

  constructor(
    private readonly options: RedisOptions & {
      log: Logger /** Log connection errors at debug level (the CLI). */;
      quiet?: boolean;
    },
  ) {
    this.plain = createRedis(options);
    this.pipelined = duplicateClient(this.plain, { enableAutoPipelining: true });
    for (const [client, name] of [
      [this.plain, "redis error"],
      [this.pipelined, "redis error (pipelined)"],
    ] as const) {
      client.on("error", (error: Error) => {
        this.lastError = error.message;
        if (options.quiet) options.log.debug({ err: error.message }, name);
        else options.log.warn({ err: error.message }, name);
      });
    }
  }

  /** Both connections answer. */
  get ready(): boolean {
    return isRedisReady(this.plain) && isRedisReady(this.pipelined);
  }

  /**
   * Whether both connections answer a PING within `deadlineMs`: a Redis that is connected but
   * stalled (CLIENT PAUSE, a stuck disk) keeps `ready` true. Callers at the same time share one PING.
   */
  answers(deadlineMs: number): Promise<boolean> {
    const ping = (client: RedisClient) => client.ping().then((answer) => answer === "PONG");
    this.pinging ??= withDeadline(
      Promise.all([ping(this.plain), ping(this.pipelined)]).then((answers) => answers.every(Boolean)),
      deadlineMs,
    ).finally(() => {
      this.pinging = undefined;
    });
    return this.pinging;
  }

  /** Connects both; rejects with a ConnectError naming Redis (password masked) and the cause. */
  async connect(): Promise<void> {
    try {
      await this.plain.connect();
      await this.pipelined.connect();
    } catch (error) {
      // ioredis rejects with "Connection is closed."; the reason came as an 'error' event.
      const cause = this.lastError ?? (error as Error).message;
      this.plain.disconnect();
      this.pipelined.disconnect();
      throw new ConnectError(`cannot connect to Redis at ${describeRedisTarget(this.options)}: ${cause}`);
    }
  }

  async close(): Promise<void> {
    await closeRedis(this.pipelined);
    await closeRedis(this.plain);
  }
}
