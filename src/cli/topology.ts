import type { Config } from "../config";
import { configuredTopology } from "./configured-topology";
import type { Output } from "./output";

/**
 * `topology print`: the expanded Rascal config (retry ladders included), without credentials,
 * and under `pipeline` what the runtime does per handler subscription (ladder, timeout,
 * concurrency limit, rate limit).
 */
export function printTopology(config: Config, output: Output): number {
  const topology = configuredTopology(config);
  output.err(`topology from ${topology.source}`);
  const pipeline = Object.fromEntries(
    topology.handlerSubscriptions.map((plan) => [
      plan.name,
      {
        handler: plan.handler,
        retryDelaysMs: plan.retry.delays,
        maxAttempts: plan.retry.maxAttempts,
        ...(plan.timeoutMs !== undefined ? { timeoutMs: plan.timeoutMs } : {}),
        ...(plan.concurrency
          ? {
              concurrency: {
                key: plan.concurrency.key,
                limit: plan.concurrency.limit,
                waitPublication: plan.concurrency.waitPublication,
              },
            }
          : {}),
        ...(plan.rateLimit ? { rateLimit: plan.rateLimit } : {}),
      },
    ]),
  );
  output.out(JSON.stringify(redactCredentials({ ...topology.rascal, pipeline }), null, 2));
  return 0;
}

/**
 * The printed topology must not leak broker credentials, in whatever form rascal.json gives
 * them: a URL anywhere (`connection`, a `connections` list, plain strings or `url` fields) or a
 * connection object's `password`.
 */
function redactCredentials(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field) => {
    if (typeof field !== "string") return field;
    if (/^pass(word)?$/i.test(key)) return "***";
    return field.replace(/\/\/([^:@/]*):[^@/]*@/g, "//$1:***@");
  });
}
