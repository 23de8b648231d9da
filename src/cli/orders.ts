import { Broker } from "../broker/broker";
import { ORDER_SUBSCRIPTION } from "../broker/topology";
import type { Config } from "../config";
import { isOrderId } from "../domain/order";
import { OrderCancellation } from "../intake/order-cancellation";
import type { Logger } from "../log";
import { cancelChannel } from "../runtime/cancel-signals";
import { OrderEvents } from "../runtime/order-events";
import { OrderStore } from "../store/order-store";
import { RedisConnections, redisTarget } from "../store/redis";
import { argumentProblem } from "./arguments";
import { configuredTopology } from "./configured-topology";
import type { Output } from "./output";

export const ORDERS_USAGE = `order-pipeline orders <command>
  cancel <id>       cancel an order (as POST /orders/{id}/cancel)`;

/** Exit code 2 with the problem and the usage when `orders <args>` is not a valid command line. */
export function refuseOrdersArguments(args: readonly string[], output: Output): number | undefined {
  const [command, ...rest] = args;
  const problem =
    command !== "cancel"
      ? command
        ? `unknown command "${command}"`
        : "a command is needed"
      : (argumentProblem(rest, { positionals: 1 }) ?? (rest.length === 0 ? "cancel needs an order id" : undefined));
  if (problem === undefined) return undefined;
  output.err(problem);
  output.err(ORDERS_USAGE);
  return 2;
}

/**
 * `orders cancel <id>`, through the same OrderCancellation as the HTTP API, on the configured
 * Redis and broker (the cancelled order's event is published). Exit 0 done, 1 unknown or refused.
 */
export async function ordersCommand(
  args: readonly string[],
  config: Config,
  log: Logger,
  output: Output,
): Promise<number> {
  const orderId = args[1]!;
  if (!isOrderId(orderId)) {
    output.err(`no order with id ${orderId}`);
    return 1;
  }
  const keyPrefix = config.REDIS_KEY_PREFIX || undefined;
  const redis = new RedisConnections({ ...redisTarget(config), keyPrefix, log, quiet: true });
  await redis.connect();
  const broker = new Broker({ topology: configuredTopology(config), log });
  try {
    await broker.declare();
    await broker.openPublisher();
    const store = new OrderStore(redis.plain);
    const cancellation = new OrderCancellation({
      store,
      events: new OrderEvents({ publisher: broker, store, log }),
      orderSubscription: ORDER_SUBSCRIPTION,
      redis: redis.plain,
      channel: cancelChannel(keyPrefix),
      log,
    });
    const outcome = await cancellation.cancel(orderId, { "x-order-id": orderId });
    switch (outcome.kind) {
      case "unknown":
        output.err(`no order with id ${orderId}`);
        return 1;
      case "conflict":
        output.err(`order ${orderId} already ended ${outcome.status}: it cannot be cancelled`);
        return 1;
      case "accepted":
        output.out(
          outcome.order.cancelRequested
            ? `cancel requested for ${orderId}: its running handler is told, the order ends when it settles`
            : `cancelled ${orderId}`,
        );
        return 0;
    }
  } finally {
    await broker.close().catch(() => {});
    await redis.close();
  }
}
