import type { Options } from "amqplib";
import type { BrokerAsPromised, PublicationSession } from "rascal";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { BrokerHealth } from "./broker";
import { ConfirmChannel, type SettleFailure } from "./confirm-channel";
import { resolvedConfig, vhostUrls, type ResolvedConfig, type ResolvedPublication } from "./resolved-config";

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

/** Where one publication goes over the fast path, worked out once. */
interface Route {
  channel: ConfirmChannel;
  exchange: string;
  routingKey: string;
  options: Options.Publish;
}

/**
 * Publishes the publications of rascal.json and settles exactly once: resolved only when the
 * broker confirmed the message and did not return it as unroutable; rejected at once while the
 * broker is down or blocked, and after `confirmTimeoutMs` otherwise.
 *
 * Confirmed publications go through one pipelined confirm channel per vhost (see
 * ConfirmChannel): with one awaited confirm per request, Rascal's pooled channels cap the
 * intake at the pool size. Rascal still owns the topology, and resolves each publication's
 * destination, routing key and options; publications the fast path does not cover
 * (unconfirmed or encrypted ones) go through Rascal as before.
 */
export class Publisher {
  private readonly channels = new Map<string, ConfirmChannel>();
  private readonly routes = new Map<string, Route | null>();
  private readonly config: ResolvedConfig;

  constructor(
    private readonly broker: BrokerAsPromised,
    private readonly health: BrokerHealth,
    private readonly confirmTimeoutMs: number,
    private readonly log: Logger,
    /** Counts every confirmed publish (`messages_published_total`), whoever made it. */
    private readonly metrics?: Pick<Metrics, "messagesPublished">,
  ) {
    this.config = resolvedConfig(broker);
  }

  /** Opens the confirm channels of the vhosts that confirmed publications use. */
  async start(): Promise<void> {
    for (const publication of Object.values(this.config.publications)) {
      if (!usesFastPath(publication) || this.channels.has(publication.vhost)) continue;
      const urls = vhostUrls(this.config, publication.vhost);
      if (urls.length === 0) continue;
      const channel = new ConfirmChannel(
        urls,
        `order-pipeline publisher (${publication.vhost})`,
        this.confirmTimeoutMs,
        this.log,
      );
      await channel.open();
      this.channels.set(publication.vhost, channel);
    }
  }

  /** Whether rascal.json declares this publication. */
  declares(publication: string): boolean {
    return publication in this.config.publications;
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
    await this.send(publication, payload, options);
    this.metrics?.messagesPublished.inc({ publication });
  }

  private async send(publication: string, payload: unknown, options: PublishOptions): Promise<void> {
    const route = this.route(publication);
    if (!route) return this.publishThroughRascal(publication, payload, options);

    const { content, contentType } = encode(payload, options.contentType);
    const headers = route.options.headers ? { ...route.options.headers, ...options.headers } : (options.headers ?? {});
    const amqpOptions: Options.Publish & { messageId: string } = {
      ...route.options,
      messageId: options.messageId,
      headers,
    };
    if (contentType !== undefined) amqpOptions.contentType = contentType;
    if (options.expirationMs !== undefined) amqpOptions.expiration = String(options.expirationMs);
    return new Promise<void>((resolve, reject) => {
      route.channel.publish(route.exchange, route.routingKey, content, amqpOptions, (failure, detail) => {
        if (failure) reject(new PublishError(failure, detail ?? failure));
        else resolve();
      });
    });
  }

  private route(publication: string): Route | null {
    let route = this.routes.get(publication);
    if (route !== undefined) return route;
    const config = this.config.publications[publication];
    const channel = config && usesFastPath(config) ? this.channels.get(config.vhost) : undefined;
    route =
      config && channel
        ? {
            channel,
            // A queue publication goes through the default exchange, keyed by the queue's name.
            exchange: config.queue !== undefined ? "" : config.destination,
            routingKey: config.queue !== undefined ? config.destination : (config.routingKey ?? ""),
            options: { ...config.options },
          }
        : null;
    this.routes.set(publication, route);
    return route;
  }

  private async publishThroughRascal(publication: string, payload: unknown, options: PublishOptions): Promise<void> {
    // The fast path answers for its own connection; this one is Rascal's.
    if (!this.health.connected) throw new PublishError("unavailable", "broker is not connected");
    if (this.health.blocked) throw new PublishError("blocked", "broker is blocking publishers (resource alarm)");
    const overrides = {
      options: {
        messageId: options.messageId,
        headers: options.headers ?? {},
        ...(options.expirationMs !== undefined ? { expiration: String(options.expirationMs) } : {}),
        ...(options.contentType !== undefined ? { contentType: options.contentType } : {}),
      },
    };
    let session: PublicationSession;
    try {
      session = await this.broker.publish(publication, payload, overrides as never);
    } catch (error) {
      throw new PublishError("error", (error as Error).message);
    }
    return settleOnce(session, options.messageId, this.confirmTimeoutMs);
  }
}

function usesFastPath(publication: ResolvedPublication): boolean {
  return publication.confirm === true && !publication.encryption && typeof publication.destination === "string";
}

/** Encodes a payload the way Rascal does, so consumers see the same content and content type. */
function encode(payload: unknown, contentType: string | undefined): { content: Buffer; contentType?: string } {
  if (Buffer.isBuffer(payload)) return { content: payload, contentType };
  if (typeof payload === "string") return { content: Buffer.from(payload), contentType: contentType ?? "text/plain" };
  return { content: Buffer.from(JSON.stringify(payload)), contentType: contentType ?? "application/json" };
}

function settleOnce(session: PublicationSession, messageId: string, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let returned = false;
    let settled = false;
    const finish = (error?: PublishError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.removeAllListeners();
      // A late confirm or error must not surface as an unhandled 'error' event.
      session.on("error", () => {});
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => {
      session.abort();
      finish(new PublishError("timeout", `no confirm within ${timeoutMs} ms`));
    }, timeoutMs);

    // Rascal emits 'return' for an unroutable mandatory message before 'success'.
    session.on("return", (message: { properties?: { messageId?: string } }) => {
      if (message.properties?.messageId === messageId) returned = true;
    });
    session.on("success", () => {
      finish(returned ? new PublishError("unroutable", "no queue is bound for this message") : undefined);
    });
    (session as NodeJS.EventEmitter).on("paused", () => {
      session.abort();
      finish(new PublishError("unavailable", "broker connection lost"));
    });
    session.on("error", (error: Error) => finish(new PublishError("error", error.message)));
  });
}
