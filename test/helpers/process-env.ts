import amqp from "amqplib";
import type Redis from "ioredis";
import { BrokerAsPromised } from "rascal";
import { loadTopology } from "../../src/broker/topology";
import { DEFAULT_AMQP_URL } from "../../src/config";
import { PrivateRedis, type PrivateRedisOptions } from "./private-redis";
import { ServiceProcess, writeTopologyFile } from "./service-process";

/**
 * What a test of real service processes needs: its own Redis (the processes cannot take a
 * key prefix), a rascal.json with its own namespace on the shared broker, and cleanup of
 * both, however the processes ended.
 */
export class ProcessTestEnv {
  readonly namespace = `t-${crypto.randomUUID().slice(0, 8)}`;
  readonly redis: PrivateRedis;
  readonly processes: ServiceProcess[] = [];
  private topologyFile: { path: string; cleanup: () => void } | undefined;
  private client: Redis | undefined;

  constructor(redisOptions: PrivateRedisOptions = {}) {
    this.redis = new PrivateRedis(redisOptions);
  }

  /** `handler` serves the order subscription; `edit` changes rascal.json further. */
  async start(handler: string, edit: (config: Record<string, any>) => void = () => {}): Promise<void> {
    await this.redis.start();
    this.client = this.redis.client();
    this.topologyFile = await writeTopologyFile((config) => {
      config.vhosts["/"].namespace = this.namespace;
      config.subscriptions.process_order.handler = handler;
      edit(config);
    });
  }

  get db(): Redis {
    return this.client!;
  }

  /** Starts `bun src/main.ts` on this env's Redis and topology and waits until it is ready. */
  async spawn(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const service = new ServiceProcess({
      env: { REDIS_URL: this.redis.url, RASCAL_CONFIG: this.topologyFile!.path, ...env },
    });
    this.processes.push(service);
    await service.waitReady();
    return service;
  }

  /** Messages ready in a queue of this namespace (unacknowledged ones not counted). */
  async readyMessages(queue: string): Promise<number> {
    return this.withChannel(async (channel) => (await channel.checkQueue(`${this.namespace}:${queue}`)).messageCount);
  }

  /** Puts a persistent JSON message straight into a queue of this namespace, confirmed. */
  async sendToQueue(queue: string, payload: unknown, messageId: string): Promise<void> {
    await this.withChannel(async (channel) => {
      channel.sendToQueue(`${this.namespace}:${queue}`, Buffer.from(JSON.stringify(payload)), {
        messageId,
        persistent: true,
        contentType: "application/json",
      });
      await channel.waitForConfirms();
    });
  }

  private async withChannel<T>(use: (channel: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
    const connection = await amqp.connect(DEFAULT_AMQP_URL);
    try {
      return await use(await connection.createConfirmChannel());
    } finally {
      await connection.close();
    }
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.processes.map((service) => service.kill()));
    this.client?.disconnect();
    await this.redis.destroy();
    if (this.topologyFile) {
      const topology = loadTopology({ path: this.topologyFile.path, defaultAmqpUrl: DEFAULT_AMQP_URL });
      const broker = await BrokerAsPromised.create(topology.rascal as never);
      await broker.nuke();
      this.topologyFile.cleanup();
    }
  }
}

/** Posts an order whose handler holds `holdMs` (the fixture handlers read it from customerId). */
export async function postOrder(service: ServiceProcess, holdMs = 0): Promise<Response> {
  return fetch(`${service.baseUrl}/orders`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ customerId: `hold-${holdMs}`, items: [{ sku: "SKU-P", quantity: 1, unitPrice: 1 }] }),
  });
}
