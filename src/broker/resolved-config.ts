import type { Options } from "amqplib";
import type { BrokerAsPromised } from "rascal";

/** A publication of rascal.json as Rascal resolved it (namespaced destination included). */
export interface ResolvedPublication {
  vhost: string;
  exchange?: string;
  queue?: string;
  destination: string;
  routingKey?: string;
  confirm?: boolean;
  encryption?: unknown;
  options?: Options.Publish;
}

/** A subscription of rascal.json as Rascal resolved it. */
export interface ResolvedSubscription {
  name: string;
  vhost: string;
  /** The queue's name on the broker (namespace included). */
  source: string;
  prefetch?: number;
  contentType?: string;
  options?: Options.Consume;
}

/** A binding of rascal.json as Rascal resolved it: one per binding key, names unqualified. */
export interface ResolvedBinding {
  source: string;
  destination: string;
  destinationType: string;
  bindingKey?: string;
  options?: Record<string, unknown>;
}

/** A vhost of rascal.json as Rascal resolved it. */
export interface ResolvedVhost {
  connections?: { url: string; index?: number }[];
  queues?: Record<string, { fullyQualifiedName: string; options?: Record<string, unknown> }>;
  exchanges?: Record<string, { fullyQualifiedName: string }>;
  bindings?: Record<string, ResolvedBinding>;
}

/** The parts of Rascal's resolved configuration the service reads. */
export interface ResolvedConfig {
  publications: Record<string, ResolvedPublication>;
  subscriptions: Record<string, ResolvedSubscription>;
  vhosts: Record<string, ResolvedVhost>;
}

/**
 * rascal.json after Rascal validated it and filled in its defaults: fully qualified (namespaced)
 * queue and exchange names, connection URLs. Rascal keeps it on the broker without typing it.
 */
export function resolvedConfig(broker: BrokerAsPromised): ResolvedConfig {
  return (broker as unknown as { config: ResolvedConfig }).config;
}

/** A vhost's connection URLs in the order Rascal tries them (its `connectionStrategy`). */
export function vhostUrls(config: ResolvedConfig, vhost: string): string[] {
  const connections = [...(config.vhosts[vhost]?.connections ?? [])];
  return connections.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)).map((connection) => connection.url);
}
