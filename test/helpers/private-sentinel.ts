import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import Redis from "ioredis";
import { freePort } from "./free-port";

export const SENTINEL_MASTER = "mymaster";

/**
 * A Redis Sentinel of our own watching a private primary, quick to act (down after 1 s), so
 * that a test can kill the primary and see a replica promoted within seconds.
 */
export class PrivateSentinel {
  readonly port = freePort();
  private readonly dir = mkdtempSync(join(tmpdir(), "faults-sentinel-"));
  private child: Subprocess | undefined;

  constructor(private readonly options: { primaryPort: number; quorum?: number; password?: string }) {}

  async start(): Promise<void> {
    // Sentinel rewrites its file with what it learns (replicas, the current master).
    const file = join(this.dir, "sentinel.conf");
    const lines = [
      `port ${this.port}`,
      "bind 127.0.0.1",
      `dir ${this.dir}`,
      `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${this.options.primaryPort} ${this.options.quorum ?? 1}`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
      ...(this.options.password ? [`sentinel auth-pass ${SENTINEL_MASTER} ${this.options.password}`] : []),
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);
    this.child = Bun.spawn(["redis-server", file, "--sentinel"], { stdout: "ignore", stderr: "ignore" });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await this.master().catch(() => undefined)) !== undefined) return;
      await Bun.sleep(50);
    }
    throw new Error(`private sentinel on port ${this.port} did not come up`);
  }

  /** The port of the master this sentinel knows now. */
  async master(): Promise<number> {
    const client = new Redis({
      port: this.port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on("error", () => {});
    try {
      await client.connect();
      const [, port] = (await client.call("SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER)) as [string, string];
      return Number(port);
    } finally {
      client.disconnect();
    }
  }

  async destroy(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.child?.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
