import { PrivateRabbitMQ, type QueueDepth } from "../helpers/private-rabbitmq";
import { PrivateRedis } from "../helpers/private-redis";
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

/**
 * The single-machine deployment: a private RabbitMQ node and a private Redis (with AOF, as the
 * README says to run it), one `ROLE=api` and one `ROLE=worker` process of the real service.
 */
export class SingleNode implements Deployment {
  readonly secret = `pw-${crypto.randomUUID()}`;
  readonly broker = new PrivateRabbitMQ({ password: `${this.secret}-amqp` });
  readonly redis = new PrivateRedis({ appendonly: true, password: `${this.secret}-redis` });
  readonly processes: Record<Role, ServiceProcess | undefined> = { api: undefined, worker: undefined };
  readonly history: ServiceReplica[] = [];
  readonly clientsAlwaysRetry = false;
  brokerBootMs = 0;
  private topology: { path: string; cleanup: () => void } | undefined;

  constructor(private readonly options: DeploymentOptions = {}) {}

  async start(): Promise<void> {
    this.topology = await writeTopologyFile(this.options.topology ?? faultTopology);
    this.brokerBootMs = await this.broker.start();
    await this.redis.start();
    await Promise.all([this.startProcess("api"), this.startProcess("worker")]);
  }

  describe(): string {
    return (
      `private RabbitMQ ${this.broker.nodeName} on :${this.broker.port} ` +
      `booted in ${(this.brokerBootMs / 1000).toFixed(1)} s; private Redis on :${this.redis.port} (AOF)`
    );
  }

  async startProcess(role: Role): Promise<ServiceProcess> {
    const service = startReplica({
      role,
      echo: this.options.echo ?? false,
      history: this.history,
      env: { AMQP_URL: this.broker.url, REDIS_URL: this.redis.url, RASCAL_CONFIG: this.topology!.path },
    });
    this.processes[role] = service;
    await service.waitReady();
    return service;
  }

  /** Kills a process with SIGKILL and waits until it is gone. */
  async kill(role: Role): Promise<void> {
    const service = this.processes[role]!;
    service.signal("SIGKILL");
    await service.exited;
  }

  get api(): ServiceProcess {
    return this.processes.api!;
  }

  get worker(): ServiceProcess {
    return this.processes.worker!;
  }

  running(): ServiceReplica[] {
    return (["api", "worker"] as const).flatMap((role) => {
      const service = this.processes[role];
      return service?.running ? [{ role, service }] : [];
    });
  }

  apiUrls(): string[] {
    return [this.api.baseUrl];
  }

  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await Promise.all([this.api.waitReady(timeoutMs), this.worker.waitReady(timeoutMs)]);
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
