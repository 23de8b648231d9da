import { PrivateRabbitMQ, type QueueDepth } from "./private-rabbitmq";

/**
 * A RabbitMQ cluster of our own on this machine: `size` private nodes (own names, ports,
 * distribution ports and data, one shared cookie) joined with `rabbitmqctl join_cluster`.
 * Quorum queues declared once it formed have a replica on every node.
 */
export class PrivateRabbitMQCluster {
  readonly nodes: PrivateRabbitMQ[];

  constructor(options: { size: number; password?: string }) {
    const cookie = crypto.randomUUID().replaceAll("-", "");
    this.nodes = Array.from(
      { length: options.size },
      () => new PrivateRabbitMQ({ password: options.password, cookie }),
    );
  }

  /** Every node's URL, comma-separated: AMQP_URL for a service that fails over among them. */
  get url(): string {
    return this.nodes.map((node) => node.url).join(",");
  }

  /** Boots every node at once, then joins the others to the first; returns how long it took. */
  async start(): Promise<number> {
    const started = performance.now();
    await Promise.all(this.nodes.map((node) => node.start()));
    for (const node of this.nodes.slice(1)) await node.joinCluster(this.nodes[0]!);
    return performance.now() - started;
  }

  /** A node that runs, to ask about the cluster. */
  private anyRunning(): PrivateRabbitMQ {
    const node = this.nodes.find((candidate) => candidate.running);
    if (!node) throw new Error("no node of the private cluster runs");
    return node;
  }

  /** The node that leads `queue` now. */
  async leaderOf(queue: string): Promise<PrivateRabbitMQ> {
    const leader = (await this.anyRunning().queueLeaders()).get(queue);
    const node = this.nodes.find((candidate) => candidate.nodeName === leader);
    if (!node) throw new Error(`no leader known for queue ${queue} (got ${leader})`);
    return node;
  }

  /** The nodes the cluster reports running. */
  async runningNodes(): Promise<string[]> {
    const status = JSON.parse(await this.anyRunning().ctl(["cluster_status", "--formatter", "json"])) as {
      running_nodes: string[];
    };
    return status.running_nodes;
  }

  /** Waits until all nodes run as members of the cluster again. */
  async waitAllRunning(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = await this.runningNodes().catch(() => []);
      if (running.length === this.nodes.length) return;
      if (Date.now() > deadline) throw new Error(`cluster runs ${running.length} of ${this.nodes.length} nodes`);
      await Bun.sleep(250);
    }
  }

  queues(): Promise<QueueDepth[]> {
    return this.anyRunning().queues();
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.nodes.map((node) => node.destroy()));
  }
}
