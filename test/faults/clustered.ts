import type { QueueDepth } from "../helpers/private-rabbitmq";
import { PrivateRabbitMQCluster } from "../helpers/private-rabbitmq-cluster";
import { PrivateRedisFailover } from "../helpers/private-redis-failover";
import type { ServiceProcess } from "../helpers/service-process";
import { writeTopologyFile } from "../helpers/service-process";
import {
  type Deployment,
  type DeploymentOptions,
  faultTopology,
  type Role,
  type ServiceReplica,
  startReplica,
} from "./deployment";

const BROKER_NODES = 3;
const REPLICAS_PER_ROLE = 2;

/**
 * The deployment of docs/operations.md "Scale-out", on this one machine: a private 3-node
 * RabbitMQ cluster, Redis primary + replica + 3 sentinels, and two `ROLE=api` and two
 * `ROLE=worker` processes of the real service. Each process lists the broker nodes starting
 * with a different one, so that connections spread over the cluster as behind a load balancer.
 */
export class Clustered implements Deployment {
  readonly secret = `pw-${crypto.randomUUID()}`;
  readonly broker = new PrivateRabbitMQCluster({ size: BROKER_NODES, password: `${this.secret}-amqp` });
  readonly redis = new PrivateRedisFailover({ password: `${this.secret}-redis` });
  readonly replicas: Record<Role, (ServiceProcess | undefined)[]> = { api: [], worker: [] };
  readonly history: ServiceReplica[] = [];
  readonly clientsAlwaysRetry = true;
  brokerBootMs = 0;
  private topology: { path: string; cleanup: () => void } | undefined;

  constructor(private readonly options: DeploymentOptions = {}) {}

  async start(): Promise<void> {
    this.topology = await writeTopologyFile(this.options.topology ?? faultTopology);
    [this.brokerBootMs] = await Promise.all([this.broker.start(), this.redis.start()]);
    // One process first, so that the topology is declared once the cluster has all its nodes.
    await this.startReplica("worker", 0);
    await Promise.all([this.startReplica("worker", 1), this.startReplica("api", 0), this.startReplica("api", 1)]);
  }

  describe(): string {
    const nodes = this.broker.nodes.map((node) => `${node.nodeName} :${node.port}`).join(", ");
    const redis = this.redis.servers.map((server) => `:${server.port}`).join(" + ");
    const sentinels = this.redis.sentinels.map((sentinel) => `:${sentinel.port}`).join(", ");
    return (
      `private RabbitMQ cluster (${nodes}) formed in ${(this.brokerBootMs / 1000).toFixed(1)} s; ` +
      `Redis ${redis} (AOF) behind sentinels ${sentinels}; ` +
      `${REPLICAS_PER_ROLE} api + ${REPLICAS_PER_ROLE} worker processes`
    );
  }

  /** Starts (or restarts) replica `index` of `role` and waits until it is ready. */
  async startReplica(role: Role, index: number): Promise<ServiceProcess> {
    const urls = this.broker.nodes.map((node) => node.url);
    const offset = (index * REPLICAS_PER_ROLE + (role === "worker" ? 1 : 0)) % urls.length;
    const service = startReplica({
      role,
      echo: this.options.echo ?? false,
      history: this.history,
      env: {
        AMQP_URL: [...urls.slice(offset), ...urls.slice(0, offset)].join(","),
        REDIS_URL: this.redis.url,
        REDIS_SENTINELS: this.redis.sentinelList,
        RASCAL_CONFIG: this.topology!.path,
      },
    });
    this.replicas[role][index] = service;
    await service.waitReady(60_000);
    return service;
  }

  /** Kills replica `index` of `role` with SIGKILL and waits until it is gone. */
  async killReplica(role: Role, index: number): Promise<void> {
    const service = this.replicas[role][index]!;
    service.signal("SIGKILL");
    await service.exited;
  }

  running(): ServiceReplica[] {
    return (["api", "worker"] as const).flatMap((role) =>
      this.replicas[role].flatMap((service) => (service?.running ? [{ role, service }] : [])),
    );
  }

  apiUrls(): string[] {
    return this.replicas.api.flatMap((service) => (service ? [service.baseUrl] : []));
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const all = [...this.replicas.api, ...this.replicas.worker];
    await Promise.all(all.map((service) => service?.waitReady(timeoutMs)));
  }

  queues(): Promise<QueueDepth[]> {
    return this.broker.queues();
  }

  redisClient() {
    return this.redis.client();
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.history.map(({ service }) => service.kill()));
    await Promise.allSettled([this.broker.destroy(), this.redis.destroy()]);
    this.topology?.cleanup();
  }
}
