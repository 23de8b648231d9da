import { Cluster } from "ioredis";
import { PrivateRedis } from "./private-redis";

/**
 * A Redis Cluster of our own: `masters` private redis-servers in cluster mode on free ports,
 * each with `replicasPerMaster` replicas (AOF on when it has any), formed with `redis-cli
 * --cluster create` (the hash slots spread over the masters).
 */
export class PrivateRedisCluster {
  readonly servers: PrivateRedis[];

  constructor(private readonly options: { masters: number; replicasPerMaster?: number; password?: string }) {
    const replicas = options.replicasPerMaster ?? 0;
    this.servers = Array.from(
      { length: options.masters * (1 + replicas) },
      () => new PrivateRedis({ cluster: true, password: options.password, appendonly: replicas > 0 }),
    );
  }

  /** REDIS_CLUSTER_NODES for the service. */
  get nodes(): string {
    return this.servers.map((server) => `127.0.0.1:${server.port}`).join(",");
  }

  async start(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.start()));
    const args = ["redis-cli", "--cluster", "create", ...this.nodes.split(","), "--cluster-replicas"];
    args.push(String(this.options.replicasPerMaster ?? 0));
    args.push("--cluster-yes", ...(this.options.password ? ["-a", this.options.password, "--no-auth-warning"] : []));
    const create = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    const [output, code] = await Promise.all([new Response(create.stdout).text(), create.exited]);
    if (code !== 0) throw new Error(`redis-cli --cluster create failed: ${output}`);
    await this.waitUntilOk();
  }

  /** The servers that are primaries now. */
  async masters(): Promise<PrivateRedis[]> {
    const roles = await Promise.all(
      this.servers.map(async (server) => {
        const client = server.client();
        try {
          return ((await client.call("ROLE").catch(() => ["gone"])) as string[])[0];
        } finally {
          client.disconnect();
        }
      }),
    );
    return this.servers.filter((_, at) => roles[at] === "master");
  }

  /**
   * Waits until every running node says the cluster is ok (all slots served) and, after
   * `start`, knows every replica as one: until the masters know a replica, they would not vote
   * for it to take over from its master.
   */
  async waitUntilOk(except: readonly PrivateRedis[] = []): Promise<void> {
    const deadline = Date.now() + 30_000;
    const replicas = this.servers.length - this.options.masters;
    const formed = (nodes: string, info: string) =>
      info.includes("cluster_state:ok") &&
      nodes
        .split("\n")
        .map((line) => line.split(" ")[2] ?? "")
        .filter((flags) => flags.includes("slave") && !flags.includes("fail")).length >=
        replicas - except.length;
    for (const server of this.servers.filter((candidate) => !except.includes(candidate))) {
      const client = server.client();
      try {
        for (;;) {
          const [nodes, info] = await Promise.all([
            client.call("CLUSTER", "NODES").catch(() => ""),
            client.call("CLUSTER", "INFO").catch(() => ""),
          ]);
          const replication = String(await client.info("replication").catch(() => ""));
          const synced = !replication.includes("role:slave") || replication.includes("master_link_status:up");
          if (formed(String(nodes), String(info)) && synced) break;
          if (Date.now() > deadline) throw new Error(`redis cluster node :${server.port} is not ok: ${info}`);
          await Bun.sleep(100);
        }
      } finally {
        client.disconnect();
      }
    }
  }

  /** A client of the whole cluster (the test's own reads). */
  client(keyPrefix?: string): Cluster {
    const client = new Cluster(
      this.servers.map((server) => ({ host: "127.0.0.1", port: server.port })),
      { redisOptions: { keyPrefix, ...(this.options.password ? { password: this.options.password } : {}) } },
    );
    client.on("error", () => {});
    return client;
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.servers.map((server) => server.destroy()));
  }
}
