import { loadTopology, type Topology } from "../broker/topology";
import type { Config } from "../config";

/** The topology the service would run with: RASCAL_CONFIG, ./rascal.json, or the built-in one. */
export function configuredTopology(config: Config): Topology {
  return loadTopology({
    path: config.RASCAL_CONFIG,
    amqpUrlOverride: config.amqpUrlOverride ? config.amqpUrl : undefined,
    defaultAmqpUrl: config.amqpUrl,
    orderTimeoutMs: config.ORDER_TIMEOUT_MS,
  });
}
