import type { Channel } from "amqplib";
import type { ResolvedConfig, ResolvedSubscription } from "./resolved-config";

/**
 * Declares a subscription's queue again, with the bindings that lead into it, as Rascal
 * declared them at start-up from rascal.json. For a queue deleted under a running consumer:
 * rascal.json stays the truth, as it is on every (re)start.
 */
export async function redeclareQueue(
  channel: Channel,
  config: ResolvedConfig,
  subscription: ResolvedSubscription,
): Promise<void> {
  const vhost = config.vhosts[subscription.vhost];
  const entry = Object.entries(vhost?.queues ?? {}).find(
    ([, queue]) => queue.fullyQualifiedName === subscription.source,
  );
  if (!entry) throw new Error(`queue ${subscription.source} is not declared in rascal.json`);
  const [name, queue] = entry;
  await channel.assertQueue(queue.fullyQualifiedName, queue.options);
  for (const binding of Object.values(vhost?.bindings ?? {})) {
    if (binding.destinationType !== "queue" || binding.destination !== name) continue;
    const exchange = vhost?.exchanges?.[binding.source]?.fullyQualifiedName ?? binding.source;
    await channel.bindQueue(queue.fullyQualifiedName, exchange, binding.bindingKey ?? "", binding.options);
  }
}
