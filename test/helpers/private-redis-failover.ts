import Redis from "ioredis";
import { PrivateRedis } from "./private-redis";
import { PrivateSentinel, SENTINEL_MASTER } from "./private-sentinel";

/**
 * Redis with failover, of our own: a primary and a replica (AOF, a password) watched by three
 * sentinels that agree (quorum 2) before they promote the replica.
 */
export class PrivateRedisFailover {
  readonly servers: PrivateRedis[];
  readonly sentinels: PrivateSentinel[];

  constructor(private readonly options: { password: string }) {
    const primary = new PrivateRedis({ appendonly: true, password: options.password });
    const replica = new PrivateRedis({ appendonly: true, password: options.password, replicaOf: primary.port });
    this.servers = [primary, replica];
    this.sentinels = Array.from(
      { length: 3 },
      () => new PrivateSentinel({ primaryPort: primary.port, quorum: 2, password: options.password }),
    );
  }

  /** REDIS_SENTINELS for the service. */
  get sentinelList(): string {
    return this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",");
  }

  /** REDIS_URL beside REDIS_SENTINELS: only its password and database count (the host is the sentinels'). */
  get url(): string {
    return `redis://:${encodeURIComponent(this.options.password)}@127.0.0.1:${this.servers[0]!.port}`;
  }

  async start(): Promise<void> {
    for (const server of this.servers) await server.start();
    await this.waitReplicated();
    await Promise.all(this.sentinels.map((sentinel) => sentinel.start()));
  }

  /** The server that is primary now, as the sentinels say. */
  async primary(): Promise<PrivateRedis> {
    const port = await this.sentinels[0]!.master();
    const server = this.servers.find((candidate) => candidate.port === port);
    if (!server) throw new Error(`the sentinels name an unknown master on port ${port}`);
    return server;
  }

  /** Waits until every replica's link to the primary is up. */
  async waitReplicated(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const primaryPort = await this.sentinels[0]!.master().catch(() => this.servers[0]!.port);
    for (const server of this.servers.filter((candidate) => candidate.port !== primaryPort)) {
      const client = server.client();
      try {
        while (!(await client.info("replication").catch(() => "")).includes("master_link_status:up")) {
          if (Date.now() > deadline) throw new Error(`redis on :${server.port} did not sync with the primary`);
          await Bun.sleep(100);
        }
      } finally {
        client.disconnect();
      }
    }
  }

  /** A client that follows the sentinels to the primary (the suite's own checks). */
  client(): Redis {
    const client = new Redis({
      sentinels: this.sentinels.map((sentinel) => ({ host: "127.0.0.1", port: sentinel.port })),
      name: SENTINEL_MASTER,
      password: this.options.password,
      maxRetriesPerRequest: 1,
      reconnectOnError: (error) => error.message.startsWith("READONLY"),
    });
    client.on("error", () => {});
    return client;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled([...this.sentinels, ...this.servers].map((part) => part.destroy()));
  }
}
