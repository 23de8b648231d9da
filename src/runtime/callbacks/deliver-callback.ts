import type { Handler } from "../../handler";
import type { OrderStore } from "../../store/order-store";
import type { OrderEvent } from "../order-events";
import { PermanentError } from "../permanent-error";
import { refusedTarget } from "./callback-target";
import { signBody } from "./signature";

export interface CallbackOptions {
  store: OrderStore;
  secret?: string;
  allowPrivate: boolean;
  timeoutMs?: number;
}

/**
 * The handler behind the `deliver_callback` subscription: on an order's terminal event it POSTs
 * the final order resource to the order's callbackUrl, signed with CALLBACK_SECRET. A non-2xx
 * answer throws, so the subscription's retry ladder in rascal.json retries it; the state shows
 * on the order as `callback: {status, attempts}`.
 */
export function createCallbackHandler(options: CallbackOptions): Handler {
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

    let refusal: string | undefined;
    try {
      refusal = await refusedTarget(event.callbackUrl, options.allowPrivate);
    } catch (error) {
      // The host name did not resolve (now): a retry may reach it.
      throw await failed(error as Error);
    }
    if (refusal) {
      await setState("refused");
      throw new PermanentError(refusal);
    }
    await setState("delivering");
    const order = await options.store.get(event.orderId);
    if (!order) return { skipped: "order no longer stored" };
    // The callback field describes this delivery; the receiver gets the order as it ended.
    const { callback: _callback, ...resource } = order;
    const body = JSON.stringify(resource);
    const headers: Record<string, string> = {
      "Content-Type": "application/json",
      "User-Agent": "order-pipeline-callbacks",
      "X-Order-Id": event.orderId,
      "Idempotency-Key": ctx.messageId,
    };
    if (options.secret) headers["X-Signature"] = signBody(body, options.secret);
    const requestId = ctx.headers["x-request-id"];
    if (typeof requestId === "string") headers["X-Request-Id"] = requestId;

    let status: number;
    try {
      const response = await fetch(event.callbackUrl, {
        method: "POST",
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
      status = response.status;
      await response.body?.cancel();
    } catch (error) {
      throw await failed(
        new Error(`callback to ${new URL(event.callbackUrl).host} failed: ${(error as Error).message}`),
      );
    }
    if (status < 200 || status >= 300) throw await failed(new Error(`callback answered HTTP ${status}`));
    await setState("delivered");
    return { delivered: true, status };
  };
}
