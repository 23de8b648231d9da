import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import Redis from "ioredis";
import { freePort } from "./free-port";

export interface PrivateRedisOptions {
  /** AOF on, so that a restart keeps the orders (how the README says to run it in production). */
  appendonly?: boolean;
  /** Required password: lets tests check that REDIS_URL's secret never reaches a log line. */
  password?: string;
  /** Starts as a replica of the Redis on this port (of this machine). */
  replicaOf?: number;
  /** Starts as a node of a Redis Cluster (which `redis-cli --cluster create` then forms). */
  cluster?: boolean;
}

/**
 * A redis-server of our own, run as a child process on a free port: fault tests stop and
 * restart it without touching the Redis that other test runs share.
 */
export class PrivateRedis {
  readonly port = freePort();
  private readonly dir = mkdtempSync(join(tmpdir(), "faults-redis-"));
  private child: Subprocess | undefined;

  constructor(private readonly options: PrivateRedisOptions = {}) {}

  get url(): string {
    const auth = this.options.password ? `:${encodeURIComponent(this.options.password)}@` : "";
    return `redis://${auth}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = ["redis-server", "--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--dir", this.dir];
    args.push("--appendonly", this.options.appendonly ? "yes" : "no", "--appendfsync", "everysec", "--daemonize", "no");
    if (this.options.password) args.push("--requirepass", this.options.password, "--masterauth", this.options.password);
    if (this.options.replicaOf) args.push("--replicaof", "127.0.0.1", String(this.options.replicaOf));
    if (this.options.cluster)
      args.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000");
    this.child = Bun.spawn(args, { stdout: "ignore", stderr: "ignore" });
    await this.waitUntil(true);
  }

  /** SIGTERM is Redis' clean shutdown (the AOF is flushed); SIGKILL is a crash. */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    child.kill(signal);
    await child.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops it for good and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }

  client(keyPrefix?: string): Redis {
    const client = new Redis(this.url, { keyPrefix, maxRetriesPerRequest: 1 });
    // Outages are the point here: errors are expected, commands fail and are retried by callers.
    client.on("error", () => {});
    return client;
  }

  private async waitUntil(up: boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on("error", () => {});
      const answered = await probe
        .connect()
        .then(
          () => probe.ping().then(() => true),
          () => false,
        )
        .catch(() => false);
      probe.disconnect();
      if (answered === up) return;
      await Bun.sleep(50);
    }
    throw new Error(`private redis on port ${this.port} did not come ${up ? "up" : "down"}`);
  }
}
