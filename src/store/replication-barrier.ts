import type Redis from "ioredis";

/** How long a write waits for a replica's acknowledgement before it goes on anyway. */
const REPLICA_WAIT_MS = 200;

/**
 * With Redis replicated for failover (Sentinel), a write the primary acknowledged can still be
 * lost: replication is asynchronous, and a failover promotes a replica that may not have it
 * yet. Before the service answers 202 or acks a message, it waits (WAIT) until one replica has
 * every write it made so far, for at most REPLICA_WAIT_MS. Callers at the same time share one
 * WAIT per connection: a WAIT still pending when a write's reply has come was sent after that
 * write (Redis runs a connection's commands in order, and WAIT holds the ones behind it), so it
 * covers it.
 */
export class ReplicationBarrier {
  private readonly pending = new Map<Redis, Promise<number>>();
  private warned = false;

  constructor(
    private readonly connections: readonly Redis[],
    /** Told when no replica acknowledged in time (none is connected, or it lags). */
    private readonly onUnreplicated: () => void = () => {},
  ) {}

  async wait(): Promise<void> {
    const acknowledged = await Promise.all(this.connections.map((redis) => this.waitOn(redis)));
    if (acknowledged.some((replicas) => replicas < 1)) {
      if (!this.warned) this.onUnreplicated();
      this.warned = true;
    } else this.warned = false;
  }

  private waitOn(redis: Redis): Promise<number> {
    let waiting = this.pending.get(redis);
    if (!waiting) {
      waiting = redis.wait(1, REPLICA_WAIT_MS).finally(() => this.pending.delete(redis));
      this.pending.set(redis, waiting);
    }
    return waiting;
  }
}
