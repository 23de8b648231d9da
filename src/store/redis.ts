import "../tracing-channel-shim";
import Redis from "ioredis";
import { ConnectError } from "../connect-error";
import { withDeadline } from "../deadline";
import { type Logger, maskUrl } from "../log";

export interface RedisOptions {
  url: string;
  /** Prepended to every key (tests use a random one per test). */
  keyPrefix?: string;
}

/**
 * Commands fail fast instead of queueing while Redis is unreachable: the intake must answer 503
 * rather than hang, and a worker must not ack without a dedup decision.
 */
export function createRedis(options: RedisOptions): Redis {
  return new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2000,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 1000),
  });
}

export function isRedisReady(redis: Redis): boolean {
  return redis.status === "ready";
}

/** QUIT, or a hard disconnect when Redis does not answer within a second (it may be gone). */
export async function closeRedis(client: Redis): Promise<void> {
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
  readonly plain: Redis;
  readonly pipelined: Redis;
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
    this.pipelined = this.plain.duplicate({ enableAutoPipelining: true });
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
    const ping = (client: Redis) => client.ping().then((answer) => answer === "PONG");
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
      throw new ConnectError(`cannot connect to Redis at ${maskUrl(this.options.url)}: ${cause}`);
    }
  }

  async close(): Promise<void> {
    await closeRedis(this.pipelined);
    await closeRedis(this.plain);
  }
}
