import type { BrokerAsPromised, PublicationSession } from "rascal";
import type { BrokerHealth } from "./broker";

export type PublishFailure = "unavailable" | "blocked" | "unroutable" | "timeout" | "error";

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

/**
 * Publishes through Rascal and settles exactly once: resolved only when the broker confirmed
 * the message and did not return it as unroutable; rejected at once while the broker is down
 * or blocked (Rascal would hold the message), and after `confirmTimeoutMs` otherwise.
 */
export class Publisher {
  constructor(
    private readonly broker: BrokerAsPromised,
    private readonly health: BrokerHealth,
    private readonly confirmTimeoutMs: number,
  ) {}

  async publish(publication: string, payload: unknown, options: PublishOptions): Promise<void> {
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
