import type { Handler } from "../../handler";
import type { OrderStore } from "../../store/order-store";
import type { OrderEvent } from "../order-events";
import { PermanentError } from "../permanent-error";
import { parseRetryAfter, RetryAfterError } from "../retry-after-error";
import { type CallbackTarget, connectUrl, type Lookup, resolveCallbackTarget } from "./callback-target";
import { signBody, standardWebhookHeaders } from "./signature";

export interface CallbackOptions {
  store: OrderStore;
  secret?: string;
  allowPrivate: boolean;
  /** Connect and first byte of the answer (default 5 s): a target that takes longer is retried. */
  timeoutMs?: number;
  /** Deliveries to one host at once in this process (default 4); the others wait their retry. */
  perHostLimit?: number;
  /** How host names are resolved (tests). */
  lookup?: Lookup;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_PER_HOST_LIMIT = 4;
/** How long a delivery that found its host at the limit waits before it tries again. */
const HOST_BUSY_RETRY_MS = 1000;

/**
 * The handler behind the `deliver_callback` subscription: on an order's terminal event it POSTs
 * the final order resource to the order's callbackUrl, signed with CALLBACK_SECRET (X-Signature
 * and the Standard Webhooks headers). A non-2xx answer throws, so the subscription's retry
 * ladder in rascal.json retries it (no sooner than a 429's or 503's Retry-After); the state
 * shows on the order as `callback: {status, attempts}`.
 *
 * A slow or dead target delays only its own callbacks: each delivery gets `timeoutMs` to be
 * answered, and at most `perHostLimit` of the subscription's prefetch slots go to one host;
 * deliveries beyond that go to the retry ladder at once instead of waiting in a slot.
 */
export function createCallbackHandler(options: CallbackOptions): Handler {
  const inFlight = new Map<string, number>();
  const perHostLimit = options.perHostLimit ?? DEFAULT_PER_HOST_LIMIT;
  return async (message, ctx) => {
    const event = message as OrderEvent;
    if (!event.callbackUrl) return { skipped: "no callbackUrl" };
    const setState = (status: string) =>
      options.store.setCallbackState(event.orderId, { status, attempts: ctx.attempt });
    /** Records this attempt's failure on the order (retried by the ladder, or the last one). */
    const failed = async (error: Error) => {
      await setState(ctx.attempt >= ctx.maxAttempts ? "failed" : "retrying");
      return error;
    };

    let target: CallbackTarget;
    try {
      const decision = await resolveCallbackTarget(event.callbackUrl, options);
      if ("refused" in decision) {
        await setState("refused");
        throw new PermanentError(decision.refused);
      }
      target = decision.target;
    } catch (error) {
      if (error instanceof PermanentError) throw error;
      // The host name did not resolve (now): a retry may reach it.
      throw await failed(error as Error);
    }
    const host = target.url.host;
    if ((inFlight.get(host) ?? 0) >= perHostLimit) {
      throw await failed(
        new RetryAfterError(`callback host ${host} has ${perHostLimit} deliveries in flight`, HOST_BUSY_RETRY_MS),
      );
    }
    inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
    try {
      return await deliver({ event, target, options, ctx, setState, failed });
    } finally {
      const left = (inFlight.get(host) ?? 1) - 1;
      if (left > 0) inFlight.set(host, left);
      else inFlight.delete(host);
    }
  };
}

async function deliver(parts: {
  event: OrderEvent;
  target: CallbackTarget;
  options: CallbackOptions;
  ctx: Parameters<Handler>[1];
  setState: (status: string) => Promise<unknown>;
  failed: (error: Error) => Promise<Error>;
}): Promise<{ delivered: true; status: number } | { skipped: string }> {
  const { event, target, options, ctx, setState, failed } = parts;
  await setState("delivering");
  const order = await options.store.get(event.orderId);
  if (!order) return { skipped: "order no longer stored" };
  // The callback field describes this delivery; the receiver gets the order as it ended.
  const { callback: _callback, ...resource } = order;
  const body = JSON.stringify(resource);
  const headers: Record<string, string> = {
    // The name the URL gave: the connection goes to the address that was checked.
    Host: target.url.host,
    "Content-Type": "application/json",
    "User-Agent": "order-pipeline-callbacks",
    "X-Order-Id": event.orderId,
    "Idempotency-Key": ctx.messageId,
  };
  if (options.secret) {
    headers["X-Signature"] = signBody(body, options.secret);
    Object.assign(headers, standardWebhookHeaders({ id: ctx.messageId, body, secret: options.secret }));
  }
  const requestId = ctx.headers["x-request-id"];
  if (typeof requestId === "string") headers["X-Request-Id"] = requestId;

  let response: Response;
  try {
    response = await fetch(connectUrl(target), {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      // Certificates are checked against the name, not the address connected to.
      tls: target.url.protocol === "https:" ? { serverName: target.host } : undefined,
    });
    await response.body?.cancel();
  } catch (error) {
    throw await failed(new Error(`callback to ${target.url.host} failed: ${(error as Error).message}`));
  }
  const { status } = response;
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
    if (retryAfterMs !== undefined) {
      throw await failed(new RetryAfterError(`callback answered HTTP ${status}`, retryAfterMs));
    }
  }
  if (status < 200 || status >= 300) throw await failed(new Error(`callback answered HTTP ${status}`));
  await setState("delivered");
  return { delivered: true, status };
}
