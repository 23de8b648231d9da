import { PrivateRabbitMQ } from "../helpers/private-rabbitmq";
import { PrivateRedis } from "../helpers/private-redis";
import { ServiceProcess, writeTopologyFile } from "../helpers/service-process";

export type Role = "api" | "worker";

/** Drain time on SIGTERM: the longest fault-suite handlers (5 s) outlast it and go back to the queue. */
export const SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * Everything the fault suite runs: a private RabbitMQ node and a private Redis (with AOF, as
 * the README says to run it), one `ROLE=api` and one `ROLE=worker` process of the real
 * service. Credentials are random, so that a leak into any log line can be found.
 */
export class Cluster {
  readonly secret = `pw-${crypto.randomUUID()}`;
  readonly broker = new PrivateRabbitMQ({ password: `${this.secret}-amqp` });
  readonly redis = new PrivateRedis({ appendonly: true, password: `${this.secret}-redis` });
  readonly processes: Record<Role, ServiceProcess | undefined> = { api: undefined, worker: undefined };
  /** Every process ever started: all their log lines are checked for credentials. */
  readonly history: { role: Role; service: ServiceProcess }[] = [];
  brokerBootMs = 0;
  private topology: { path: string; cleanup: () => void } | undefined;

  constructor(private readonly echo = false) {}

  async start(): Promise<void> {
    // The shipped topology, with the fault suite's handler on the order subscription, one
    // order of a customer at a time (so that every fault also meets the concurrency slots).
    this.topology = await writeTopologyFile((config) => {
      config.subscriptions.process_order.handler = "record-effect";
      config.pipeline.concurrency = { process_order: { key: "customerId", limit: 1 } };
    });
    this.brokerBootMs = await this.broker.start();
    await this.redis.start();
    await Promise.all([this.startProcess("api"), this.startProcess("worker")]);
  }

  async startProcess(role: Role): Promise<ServiceProcess> {
    const service = new ServiceProcess({
      echo: this.echo,
      env: {
        ROLE: role,
        AMQP_URL: this.broker.url,
        REDIS_URL: this.redis.url,
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        RASCAL_CONFIG: this.topology!.path,
      },
    });
    this.processes[role] = service;
    this.history.push({ role, service });
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

  /** Waits until both processes answer /readyz 200 again. */
  async waitHealthy(timeoutMs = 60_000): Promise<void> {
    await Promise.all([this.api.waitReady(timeoutMs), this.worker.waitReady(timeoutMs)]);
  }

  async destroy(): Promise<void> {
    await Promise.allSettled(this.history.map(({ service }) => service.kill()));
    await Promise.allSettled([this.broker.destroy(), this.redis.destroy()]);
    this.topology?.cleanup();
  }
}
