import type { Options } from "amqplib";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { ConfirmChannel, type SettleFailure } from "./confirm-channel";
import { type ResolvedConfig, vhostUrls } from "./resolved-config";

export type PublishFailure = SettleFailure;

/** A publish the broker did not confirm as stored and routed. */
export class PublishError extends Error {
  override name = "PublishError";
  constructor(
    readonly reason: PublishFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface PublishOptions {
  messageId: string;
  headers?: Record<string, string | number | boolean>;
  /** Per-message TTL in milliseconds. */
  expirationMs?: number;
  /** For raw Buffer payloads being republished (retries, dead letters, replays). */
  contentType?: string;
}

/** Where one publication goes, worked out once. */
interface Route {
  channel: ConfirmChannel;
  exchange: string;
  routingKey: string;
  options: Options.Publish;
}

export interface PublicationsOptions {
  config: ResolvedConfig;
  confirmTimeoutMs: number;
  log: Logger;
  /** Counts every confirmed publish (`messages_published_total`), whoever made it. */
  metrics?: Pick<Metrics, "messagesPublished">;
}

/**
 * Publishes the publications of rascal.json and settles exactly once: resolved only when the
 * broker confirmed the message and did not return it as unroutable; rejected at once while the
 * broker is down or blocked, and after `confirmTimeoutMs` otherwise. Every publication goes
 * through one pipelined confirm channel per vhost (see ConfirmChannel), with the destination,
 * routing key and options Rascal resolved from rascal.json.
 */
export class Publications {
  private readonly channels = new Map<string, ConfirmChannel>();
  private readonly routes = new Map<string, Route>();

  constructor(private readonly options: PublicationsOptions) {}

  /** Opens the confirm channel of every vhost that has publications. */
  async open(): Promise<void> {
    const { config, confirmTimeoutMs, log } = this.options;
    for (const publication of Object.values(config.publications)) {
      if (this.channels.has(publication.vhost)) continue;
      const urls = vhostUrls(config, publication.vhost);
      const name = `order-pipeline publisher (${publication.vhost})`;
      const channel = new ConfirmChannel({ urls, name, confirmTimeoutMs, log });
      this.channels.set(publication.vhost, channel);
      await channel.open();
    }
  }

  /** Whether rascal.json declares this publication. */
  declares(publication: string): boolean {
    return publication in this.options.config.publications;
  }

  /** Every confirm channel is connected and not blocked by a resource alarm. */
  get ready(): boolean {
    return [...this.channels.values()].every((channel) => channel.ready);
  }

  async close(): Promise<void> {
    await Promise.all([...this.channels.values()].map((channel) => channel.close()));
  }

  /** Resolves once the broker confirmed the message and routed it (see the class comment). */
  async publish(publication: string, payload: unknown, options: PublishOptions): Promise<void> {
    const route = this.route(publication);
    const { content, contentType } = encode(payload, options.contentType);
    const headers = route.options.headers ? { ...route.options.headers, ...options.headers } : (options.headers ?? {});
    const amqpOptions: Options.Publish & { messageId: string } = {
      ...route.options,
      messageId: options.messageId,
      headers,
    };
    if (contentType !== undefined) amqpOptions.contentType = contentType;
    if (options.expirationMs !== undefined) amqpOptions.expiration = String(options.expirationMs);
    await new Promise<void>((resolve, reject) => {
      route.channel.publish(route.exchange, route.routingKey, content, amqpOptions, (failure, detail) => {
        if (failure) reject(new PublishError(failure, detail ?? failure));
        else resolve();
      });
    });
    this.options.metrics?.messagesPublished.inc({ publication });
  }

  private route(publication: string): Route {
    const known = this.routes.get(publication);
    if (known) return known;
    const config = this.options.config.publications[publication];
    const channel = config && this.channels.get(config.vhost);
    if (!config || !channel) throw new PublishError("error", `no publication "${publication}" in rascal.json`);
    const route: Route = {
      channel,
      // A queue publication goes through the default exchange, keyed by the queue's name.
      exchange: config.queue !== undefined ? "" : config.destination,
      routingKey: config.queue !== undefined ? config.destination : (config.routingKey ?? ""),
      options: { ...config.options },
    };
    this.routes.set(publication, route);
    return route;
  }
}

/** Encodes a payload the way Rascal does, so consumers see the same content and content type. */
function encode(payload: unknown, contentType: string | undefined): { content: Buffer; contentType?: string } {
  if (Buffer.isBuffer(payload)) return { content: payload, contentType };
  if (typeof payload === "string") return { content: Buffer.from(payload), contentType: contentType ?? "text/plain" };
  return { content: Buffer.from(JSON.stringify(payload)), contentType: contentType ?? "application/json" };
}
