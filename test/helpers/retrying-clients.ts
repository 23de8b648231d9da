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
