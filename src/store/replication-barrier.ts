import { Cluster } from "ioredis";
import type { RedisClient } from "./redis";

/** How long a write waits for a replica's acknowledgement before it goes on anyway. */
const REPLICA_WAIT_MS = 200;

/**
 * With Redis replicated for failover (Sentinel, Cluster), a write the primary acknowledged can still be
 * lost: replication is asynchronous, and a failover promotes a replica that may not have it
 * yet. Before the service answers 202 or acks a message, it waits (WAIT) until one replica has
 * every write it made so far, for at most REPLICA_WAIT_MS. Callers at the same time share one
 * WAIT per connection: a WAIT still pending when a write's reply has come was sent after that
 * write (Redis runs a connection's commands in order, and WAIT holds the ones behind it), so it
 * covers it.
 */
export class ReplicationBarrier {
  private readonly pending = new Map<RedisClient, Promise<number>>();
  private warned = false;

  constructor(
    /**
     * The connections whose writes must reach a replica, asked at each wait: with Sentinel the
     * service's two, on Redis Cluster each primary's connection of both (see `replicatedConnections`).
     */
    private readonly connections: () => readonly RedisClient[],
    /** Told when no replica acknowledged in time (none is connected, or it lags). */
    private readonly onUnreplicated: () => void = () => {},
  ) {}

  async wait(): Promise<void> {
    const acknowledged = await Promise.all(this.connections().map((redis) => this.waitOn(redis)));
    if (acknowledged.some((replicas) => replicas < 1)) {
      if (!this.warned) this.onUnreplicated();
      this.warned = true;
    } else this.warned = false;
  }

  private waitOn(redis: RedisClient): Promise<number> {
    let waiting = this.pending.get(redis);
    if (!waiting) {
      waiting = redis.wait(1, REPLICA_WAIT_MS).finally(() => this.pending.delete(redis));
      this.pending.set(redis, waiting);
    }
    return waiting;
  }
}

/**
 * What a ReplicationBarrier waits on. On Redis Cluster every primary's connection, of each of
 * the service's clients: a client's writes to a primary go over that node's connection — but
 * only while the cluster has replicas at all (one without any has no failover to lose writes to),
 * and only primaries still connected.
 */
export function replicatedConnections(clients: readonly RedisClient[]): () => readonly RedisClient[] {
  return () =>
    clients.flatMap((client) => {
      if (!(client instanceof Cluster)) return [client];
      // A primary that is gone (its replica takes over) holds no writes to wait for.
      return client.nodes("slave").length > 0 ? client.nodes("master").filter((node) => node.status === "ready") : [];
    });
}
