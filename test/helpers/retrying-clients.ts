import { expect } from "bun:test";
import { until } from "./eventually";
import { type OrderJson, sampleOrder, type TestService } from "./service";

export interface RetryingClients {
  /** Ids of the orders answered 202, in the order the answers came. */
  readonly accepted: string[];
  /** How many answers of each status came, retries included. */
  readonly answers: Map<number, number>;
  /** Lets every client finish the order it is on (until its 202), then stop. */
  stop(): Promise<void>;
}

/**
 * `count` clients posting orders one after another, each sent again with its Idempotency-Key
 * until it is accepted (as the API asks of a client that got a 503 or no answer): load for a
 * failover, in which no accepted order may be lost or run twice.
 */
export function retryingClients(service: TestService, options: { count: number; keyPrefix: string }): RetryingClients {
  const accepted: string[] = [];
  const answers = new Map<number, number>();
  let sending = true;
  const client = async (index: number) => {
    for (let n = 0; sending; n++) {
      const key = `${options.keyPrefix}-${index}-${n}`;
      for (;;) {
        const response = await service.post(sampleOrder(), { "Idempotency-Key": key });
        answers.set(response.status, (answers.get(response.status) ?? 0) + 1);
        if (response.status === 202) {
          accepted.push(((await response.json()) as OrderJson).id);
          break;
        }
        await Bun.sleep(50);
      }
      await Bun.sleep(10);
    }
  };
  const running = Array.from({ length: options.count }, (_, index) => client(index));
  return {
    accepted,
    answers,
    async stop() {
      sending = false;
      await Promise.all(running);
    },
  };
}

/**
 * Three retrying clients across a fault: `fault` runs once 30 orders were accepted, and the
 * clients stop once 30 more were accepted after it. Returns what they saw.
 */
export async function acceptedAcross(
  service: TestService,
  options: { keyPrefix: string; fault: () => Promise<void> },
): Promise<RetryingClients> {
  const clients = retryingClients(service, { count: 3, keyPrefix: options.keyPrefix });
  await until("orders flow", async () => clients.accepted.length >= 30);
  await options.fault();
  const acceptedAtFault = clients.accepted.length;
  await until("orders flow again", async () => clients.accepted.length >= acceptedAtFault + 30, 30_000);
  await clients.stop();
  return clients;
}

/**
 * What a failover may not break: every answer was 202, 503 or 409, each accepted order was
 * accepted once and completed exactly once (read through the service). Returns the orders.
 */
export async function expectEachCompletedOnce(service: TestService, clients: RetryingClients): Promise<OrderJson[]> {
  expect([...clients.answers.keys()].every((status) => status === 202 || status === 503 || status === 409)).toBe(true);
  expect(new Set(clients.accepted).size).toBe(clients.accepted.length);
  const orders: OrderJson[] = [];
  for (const id of clients.accepted) {
    const order = await service.waitForOrder(id, (current) => current.status === "completed", 20_000);
    expect(order.history.filter((entry) => entry.status === "completed")).toHaveLength(1);
    orders.push(order);
  }
  return orders;
}
