import type { Publisher } from "../broker/broker";
import type { Settlement } from "../broker/queue-consumers";
import { DEAD_LETTER_PUBLICATION, type SubscriptionPlan } from "../broker/topology";
import { type OrderMessage, orderMessageSchema } from "../domain/order";
import type { Handler, HandlerContext } from "../handler";
import type { Logger } from "../log";
import { CONSUME_OUTCOMES, type ConsumeOutcome, type Metrics } from "../metrics";
import type { ConcurrencySlots } from "../store/concurrency-slots";
import type { ClaimResult, MessageLedger, MessageRef } from "../store/message-ledger";
import type { OrderStore } from "../store/order-store";
import type { RateLimiter } from "../store/rate-limiter";
import type { RedisClient } from "../store/redis";
import type { Transition } from "../store/transition";
import { jitteredBackoff, retryDelay, retryWithBackoff, sleep, sleepUnlessAborted } from "./backoff";
import type { CancelSignals } from "./cancel-signals";
import { type DeadLetterReason, DL_HEADERS, isPermanentReason } from "./dead-letter-reason";
import { FlowGate } from "./flow-gate";
import { carriedHeaders } from "./message-headers";
import type { OrderEvents } from "./order-events";
import { isPermanent, PermanentError } from "./permanent-error";
import { requestedRetryDelay } from "./retry-after-error";

/** The parts of an AMQP message the runtime reads. */
export interface IncomingMessage {
  content: Buffer;
  properties: { messageId?: string; contentType?: string; headers?: Record<string, unknown> };
  fields?: { redelivered?: boolean };
}

export interface ProcessorDeps {
  publisher: Publisher;
  ledger: MessageLedger;
  metrics: Metrics;
  log: Logger;
  redis: RedisClient;
  /** Aborted on shutdown: waits end, handlers are told to stop early. */
  shutdown: AbortSignal;
  /** Cancel requests for the orders whose handlers run here. */
  cancels?: CancelSignals;
  /** Announces orders that reached a terminal status. */
  events: OrderEvents;
  /** Where a lost order record is rebuilt from its message. */
  orderStore: Pick<OrderStore, "rebuild">;
  /** `pipeline.concurrency` and `pipeline.rateLimits` across replicas. */
  slots: ConcurrencySlots;
  rates: RateLimiter;
}

/**
 * Runs one subscription's messages through its handler with the runtime's guarantees: dedup
 * and attempt counting in Redis before the handler starts, a heartbeat on the claim while it
 * runs, and afterwards exactly one of completed / retry tier / dead letter before the ack.
 */
export class MessageProcessor {
  private readonly log: Logger;
  private readonly gate: FlowGate;

  constructor(
    private readonly plan: SubscriptionPlan,
    private readonly handler: Handler,
    /** Whether this subscription's messages are orders whose status it drives. */
    private readonly tracksOrders: boolean,
    private readonly deps: ProcessorDeps,
  ) {
    this.log = deps.log.child({ subscription: plan.name });
    this.gate = new FlowGate({ ...deps, plan, log: this.log });
    // Every outcome's series exists from the start at 0, so that rates and alerts on, say,
    // dead letters read 0 rather than "no data" until the first one.
    for (const outcome of CONSUME_OUTCOMES) deps.metrics.messagesConsumed.inc({ subscription: plan.name, outcome }, 0);
  }

  async process(message: IncomingMessage, content: unknown): Promise<Settlement> {
    const messageId = message.properties.messageId;
    const headers = carriedHeaders(message.properties.headers);
    if (!messageId || !/^[\x21-\x7e]{1,200}$/.test(messageId)) {
      return this.deadLetter({
        message,
        ref: { subscription: this.plan.name, messageId: "missing" },
        reason: "invalid_content",
        error: "message has no valid messageId",
        attempts: 0,
        headers,
      });
    }
    let orderId: string | undefined;
    if (this.tracksOrders) {
      const parsed = orderMessageSchema.safeParse(content);
      if (!parsed.success) {
        return this.deadLetter({
          message,
          ref: { subscription: this.plan.name, messageId },
          reason: "invalid_content",
          error: `not an order message: ${parsed.error.issues[0]?.message}`,
          attempts: 0,
          headers,
        });
      }
      orderId = parsed.data.orderId;
    }
    const ref: MessageRef = { subscription: this.plan.name, messageId, orderId, owner: this.deps.ledger.newOwner() };
    // The order an event is about travels in its x-order-id header: for ctx and the log lines,
    // not for status tracking, which only the order's own subscription does.
    const bindings = {
      messageId,
      orderId: orderId ?? headers["x-order-id"],
      requestId: headers["x-request-id"],
      traceparent: headers.traceparent,
    };
    // Until the claim names the attempt, a logger is only needed on the rare paths that log:
    // made on first use, so that a message gets one child logger, not two.
    let messageLog: Logger | undefined;
    const log = () => (messageLog ??= this.log.child(bindings));

    // A handler that runs while nothing can be published would burn an attempt on every
    // redelivery (its retry or dead letter cannot be sent): wait for the publisher first.
    if (!(await this.publisherReady(log))) return "requeue";
    // Concurrency and rate limits come before the claim, which counts an attempt.
    const gate = await this.gate.enter(content, ref.owner!);
    if (!gate) return "requeue";
    if (gate.kind === "hold") return this.holdBack(message, ref.messageId, headers, log);
    let claim = await this.claim(ref, log);
    if (claim?.kind === "missing") claim = await this.rebuildAndClaim(ref, content as OrderMessage, log);
    if (claim?.kind !== "run") gate.leave();
    if (!claim) return "requeue";
    if (claim.kind === "missing") return this.requeueAfterPause(log());
    if (claim.kind === "duplicate" || claim.kind === "dropped") {
      log().info({ outcome: claim.kind, detail: claim.detail }, `message ${claim.kind}`);
      if (claim.kind === "duplicate" && orderId) await this.deps.events.reannounce(orderId, headers).catch(() => {});
      this.count(claim.kind);
      return "ack";
    }
    if (claim.kind === "busy") return "requeue";
    if (claim.kind === "cancelled") {
      // Cancelled while an earlier run's process died: the order ended now, the message goes.
      await this.deps.events.announce(orderId!, "cancelled", claim.transition, headers);
      log().info({ outcome: "dropped", detail: "cancelled" }, "message dropped");
      this.count("dropped");
      return "ack";
    }

    const attempt = claim.attempt;
    const attemptLog = this.log.child({ ...bindings, attempt });
    if (attempt > this.plan.retry.maxAttempts) {
      // Earlier starts never reported back: the handler keeps crashing its process.
      gate.leave();
      return this.deadLetter({
        message,
        ref,
        reason: "redelivery_limit",
        error: `handler started ${attempt - 1} times without finishing`,
        attempts: attempt - 1,
        headers,
      });
    }
    return this.run({ message, content, ref, attempt, headers, log: attemptLog, leaveGate: gate.leave });
  }

  /**
   * An accepted order whose record Redis no longer has — a failover to a replica that had not
   * received it yet loses acknowledged writes — is recorded again from its message, which
   * carries the whole order, and then claimed as usual. (An order the intake refused leaves a
   * marker instead, and its message is dropped.)
   */
  private async rebuildAndClaim(ref: MessageRef, message: OrderMessage, log: () => Logger) {
    // A message without the whole order (another publisher's) cannot stand for a lost record.
    if (typeof message.customerId !== "string" || typeof message.createdAt !== "string")
      return { kind: "dropped", detail: "unknown order" } as const;
    const rebuilt = await retryWithBackoff(() => this.deps.orderStore.rebuild(message, now()), {
      signal: this.deps.shutdown,
    });
    if (rebuilt === undefined) return undefined;
    if (rebuilt) log().warn("the order had no record in Redis (lost in a failover?): rebuilt it from its message");
    return this.claim(ref, log);
  }

  /**
   * A message whose concurrency key is at its limit while enough others already wait here: it
   * goes to the subscription's wait queue, from which it returns to the work queue shortly.
   * No claim was taken, so no attempt is used.
   */
  private async holdBack(
    message: IncomingMessage,
    messageId: string,
    headers: Record<string, string>,
    log: () => Logger,
  ): Promise<Settlement> {
    try {
      await this.deps.publisher.publish(this.plan.concurrency!.waitPublication, message.content, {
        messageId,
        headers,
        contentType: message.properties.contentType,
      });
    } catch (error) {
      log().warn({ err: error }, "could not move the message to the wait queue; it goes back to its queue");
      return this.requeueAfterPause(log());
    }
    return "ack";
  }

  /** Content Rascal could not parse: dead-lettered, the consumer keeps going. */
  async invalidContent(message: IncomingMessage, error: Error): Promise<Settlement> {
    const ref = { subscription: this.plan.name, messageId: message.properties.messageId ?? "missing" };
    return this.deadLetter({
      message,
      ref,
      reason: "invalid_content",
      error: `unparseable content: ${error.message}`,
      attempts: 0,
      headers: carriedHeaders(message.properties.headers),
    });
  }

  private async run(options: {
    message: IncomingMessage;
    content: unknown;
    ref: MessageRef;
    attempt: number;
    headers: Record<string, string>;
    log: Logger;
    /** Gives back the concurrency slot: called when the handler has settled. */
    leaveGate: () => void;
  }): Promise<Settlement> {
    const { message, content, ref, attempt, headers, log } = options;
    const heartbeat = setInterval(
      () => {
        this.deps.ledger.extend(ref).then(
          (kept) => kept || log.warn("lost the claim on this message while its handler runs"),
          (error: unknown) => log.warn({ err: error }, "could not extend the claim"),
        );
      },
      Math.max(100, Math.floor(this.deps.ledger.leaseMs / 3)),
    );

    // An order's handler also hears of a cancel request: its signal aborts then. A subscription
    // with a timeout needs a signal of the run's own to abort when it runs out.
    const cancel = ref.orderId ? this.deps.cancels?.watch(ref.orderId) : undefined;
    const timeoutMs = this.plan.timeoutMs;
    const own = !cancel && timeoutMs !== undefined ? followShutdown(this.deps.shutdown) : undefined;
    const signal = cancel?.signal ?? own?.signal ?? this.deps.shutdown;
    const done = () => {
      clearInterval(heartbeat);
      options.leaveGate();
      cancel?.release();
      own?.release();
    };
    const started = performance.now();
    const running = Promise.resolve()
      .then(() => this.handler(content, this.context({ ref, attempt, message, headers, log, signal })))
      .then(
        (value): Settled => ({ value }),
        (error: unknown): Settled => ({ error: error ?? new Error("handler threw a non-error value") }),
      );
    const settled = timeoutMs === undefined ? await running : await withTimeout(running, timeoutMs);
    let result: unknown;
    let failure: unknown;
    // The attempt's own claim, or, once it timed out, a stand-in that leaves the claim held.
    let finishRef = ref;
    if (settled === TIMED_OUT) {
      failure = new Error(`handler timed out after ${timeoutMs} ms`);
      (cancel ?? own)?.abort(failure as Error);
      this.deps.metrics.handlerTimeouts.inc({ subscription: this.plan.name });
      // The attempt is over but its handler is not: the claim stays held, and its heartbeat
      // going, until the handler settles in this process, so that the retry cannot start the
      // message a second time meanwhile (it waits as for a message running elsewhere).
      finishRef = { ...ref, owner: undefined };
      void running.then(() => {
        done();
        return this.deps.ledger.release(ref).catch(() => {});
      });
    } else {
      done();
      if ("error" in settled) failure = settled.error;
      else result = settled.value;
    }
    const durationMs = performance.now() - started;
    this.deps.metrics.handlerDuration.observe({ subscription: this.plan.name }, durationMs / 1000);

    if (failure === undefined) {
      const fields = { result: result === undefined ? "" : JSON.stringify(result), error: "", nextRetryAt: "" };
      const recorded = await this.record(() => this.deps.ledger.finish(ref, "completed", now(), fields), log);
      // Shut down before the completion was recorded: the redelivery will run the handler again.
      if (recorded === undefined) return "requeue";
      if (ref.orderId)
        await this.deps.events.announce(
          ref.orderId,
          "completed",
          recorded,
          headers,
          result === undefined ? {} : { result },
        );
      log.info({ outcome: "completed", durationMs: round(durationMs) }, "message completed");
      this.count("completed");
      return "ack";
    }

    const errorMessage = failure instanceof Error ? failure.message : String(failure);
    const outcomeLog = log.child({ durationMs: round(durationMs) });
    if (cancel?.cancelled()) return this.endCancelled({ ref, error: errorMessage, headers, log: outcomeLog });
    if (isPermanent(failure))
      return this.deadLetter({
        message,
        ref: finishRef,
        reason: "permanent",
        error: errorMessage,
        attempts: attempt,
        headers,
        log: outcomeLog,
      });
    if (attempt >= this.plan.retry.maxAttempts)
      return this.deadLetter({
        message,
        ref: finishRef,
        reason: "max_attempts",
        error: errorMessage,
        attempts: attempt,
        headers,
        log: outcomeLog,
      });
    return this.retry({
      message,
      ref: finishRef,
      attempt,
      error: errorMessage,
      headers,
      log,
      durationMs,
      retryAfterMs: requestedRetryDelay(failure),
    });
  }

  /** Sends the message to its next retry tier (one that waits at least `retryAfterMs` when given). */
  private async retry(options: {
    message: IncomingMessage;
    ref: MessageRef;
    attempt: number;
    error: string;
    headers: Record<string, string>;
    log: Logger;
    durationMs: number;
    retryAfterMs?: number;
  }): Promise<Settlement> {
    const { message, ref, attempt, error: errorMessage, headers, log, durationMs } = options;
    const { tier, delayMs } = retryDelay(this.plan.retry.delays, attempt, options.retryAfterMs);
    try {
      await this.deps.publisher.publish(this.plan.retry.publications[tier]!, message.content, {
        messageId: ref.messageId,
        headers,
        contentType: message.properties.contentType,
      });
    } catch (error) {
      // The retry tier's queue did not take it (say its leader was on a broker node that just
      // died). The retry waits its delay here instead: requeued at once, the message would use
      // up its attempts within seconds of the same outage.
      log.warn({ err: error, delayMs }, "could not schedule the retry; it waits here, then goes back to its queue");
      await this.deps.ledger.release(ref).catch(() => {});
      return this.requeueAfterPause(log, delayMs);
    }
    const nextRetryAt = new Date(Date.now() + delayMs).toISOString();
    const fields = { error: JSON.stringify({ message: errorMessage, permanent: false }), nextRetryAt };
    // The retry is already queued: a failed status write must not requeue a second copy.
    await this.record(() => this.deps.ledger.finish(ref, "retrying", now(), fields, errorMessage), log);
    log.warn(
      { outcome: "retried", error: errorMessage, delayMs, nextRetryAt, durationMs: round(durationMs) },
      "handler failed; retry scheduled",
    );
    this.count("retried");
    return "ack";
  }

  /** Sends the message to the dead letters and records the order's end there. */
  private async deadLetter(options: {
    message: IncomingMessage;
    ref: MessageRef;
    reason: DeadLetterReason;
    error: string;
    attempts: number;
    headers: Record<string, string>;
    log?: Logger;
  }): Promise<Settlement> {
    const { message, ref, reason, error: errorMessage, attempts, headers } = options;
    const log = options.log ?? this.log.child({ messageId: ref.messageId, orderId: ref.orderId });
    try {
      await this.deps.publisher.publish(DEAD_LETTER_PUBLICATION, message.content, {
        messageId: ref.messageId,
        contentType: message.properties.contentType,
        headers: {
          ...headers,
          [DL_HEADERS.reason]: reason,
          [DL_HEADERS.error]: errorMessage.slice(0, 2000),
          [DL_HEADERS.attempts]: attempts,
          [DL_HEADERS.subscription]: this.plan.name,
          [DL_HEADERS.queue]: this.plan.queue,
        },
      });
    } catch (error) {
      log.warn({ err: error }, "could not dead-letter the message; it goes back to its queue");
      // Give the claim back so the redelivery need not wait out the lease.
      if (ref.owner) await this.deps.ledger.release(ref).catch(() => {});
      return this.requeueAfterPause(log);
    }
    if (ref.messageId !== "missing") {
      const permanent = isPermanentReason(reason);
      const fields = { error: JSON.stringify({ message: errorMessage, permanent }), nextRetryAt: "" };
      const recorded = await this.record(
        () => this.deps.ledger.finish(ref, "dead_lettered", now(), fields, reason),
        log,
      );
      if (recorded && ref.orderId) {
        await this.deps.events.announce(ref.orderId, "dead_lettered", recorded, headers, {
          error: { message: errorMessage, permanent },
        });
      }
    }
    log.error({ outcome: "dead_lettered", reason, error: errorMessage, attempts }, "message dead-lettered");
    this.count("dead_lettered");
    return "ack";
  }

  /** A handler that threw after its order's cancel was requested: the order ends cancelled, nothing is retried. */
  private async endCancelled(options: {
    ref: MessageRef;
    error: string;
    headers: Record<string, string>;
    log: Logger;
  }): Promise<Settlement> {
    const { ref, headers, log } = options;
    const detail = `cancelled while its handler ran (it threw: ${options.error.slice(0, 200)})`;
    const recorded = await this.record(
      () => this.deps.ledger.finish(ref, "cancelled", now(), { nextRetryAt: "" }, detail),
      log,
    );
    if (recorded === undefined) return "requeue";
    await this.deps.events.announce(ref.orderId!, "cancelled", recorded, headers);
    log.info({ outcome: "dropped", detail: "cancelled" }, "message dropped: its order was cancelled");
    this.count("dropped");
    return "ack";
  }

  private context(options: {
    ref: MessageRef;
    attempt: number;
    message: IncomingMessage;
    headers: Record<string, string>;
    log: Logger;
    signal: AbortSignal;
  }): HandlerContext {
    const { ref, attempt, message, headers, log, signal } = options;
    let published = 0;
    return {
      messageId: ref.messageId,
      attempt,
      maxAttempts: this.plan.retry.maxAttempts,
      headers: { ...(message.properties.headers ?? {}) },
      log,
      subscription: this.plan.name,
      orderId: ref.orderId ?? headers["x-order-id"],
      redis: this.deps.redis,
      signal,
      publish: async (publication, payload, options) => {
        // A name rascal.json does not declare fails the same on every retry.
        if (!this.deps.publisher.declares(publication)) {
          throw new PermanentError(`ctx.publish: no publication "${publication}" in rascal.json's publications`);
        }
        published += 1;
        const messageId = options?.messageId ?? `${ref.messageId}:${publication}:${published}`;
        await this.deps.publisher.publish(publication, payload, { messageId, headers });
      },
    };
  }

  /**
   * Claims the message, waiting out a Redis outage (no ack without a dedup decision) and a
   * claim held by another worker. Undefined means: give the message back (shutdown).
   */
  private async claim(ref: MessageRef, log: () => Logger): Promise<ClaimResult | undefined> {
    const { ledger, shutdown } = this.deps;
    for (let waits = 0; !shutdown.aborted; waits++) {
      const result = await retryWithBackoff(() => ledger.claim(ref, now()), {
        signal: shutdown,
        onFailure: (error, step) =>
          step === 0 && log().warn({ err: error }, "Redis unavailable; holding the message until it is back"),
      });
      if (result?.kind !== "busy") return result;
      if (waits === 0)
        log().info({ holder: result.holder }, "message is running elsewhere; waiting for that run to end");
      await sleep(Math.min(1000, ledger.leaseMs));
    }
    return undefined;
  }

  /**
   * A message whose retry or dead letter could not be published goes back to its queue, but
   * not at once: redelivered straight away it would fail the same way, in a loop that burns
   * the quorum queue's delivery limit. Waits a moment (or `pauseMs`: a retry's own delay), and
   * for the publisher if it is down.
   */
  private async requeueAfterPause(log: Logger, pauseMs = jitteredBackoff(2)): Promise<Settlement> {
    await sleepUnlessAborted(pauseMs, this.deps.shutdown);
    await this.publisherReady(() => log);
    return "requeue";
  }

  /** Waits while the publisher's connection is down or blocked; false if shutdown came first. */
  private async publisherReady(log: () => Logger): Promise<boolean> {
    const { publisher, shutdown } = this.deps;
    if (publisher.canPublish) return true;
    if (shutdown.aborted) return false;
    const ready = await retryWithBackoff(
      async () => {
        if (!publisher.canPublish) throw new Error("publisher unavailable");
        return true;
      },
      {
        signal: shutdown,
        onFailure: (_error, step) =>
          step === 0 && log().warn("publisher unavailable; holding the message until it is back"),
      },
    );
    return ready === true;
  }

  /** Writes a status, retrying through a Redis outage; undefined if shutdown came first. */
  private record(write: () => Promise<Transition>, log: Logger): Promise<Transition | undefined> {
    return retryWithBackoff(write, {
      signal: this.deps.shutdown,
      onFailure: (error, step) =>
        step === 0 && log.warn({ err: error }, "Redis unavailable; retrying the status write"),
    });
  }

  private count(outcome: ConsumeOutcome): void {
    this.deps.metrics.messagesConsumed.inc({ subscription: this.plan.name, outcome });
  }
}

const now = () => new Date().toISOString();

type Settled = { value: unknown } | { error: unknown };
const TIMED_OUT = Symbol("timed out");

/** `running`'s outcome, or TIMED_OUT when it takes longer than `timeoutMs`. */
async function withTimeout(running: Promise<Settled>, timeoutMs: number): Promise<Settled | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs);
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A signal of a run's own that also aborts on shutdown; `release` drops its shutdown listener. */
function followShutdown(shutdown: AbortSignal): { signal: AbortSignal; abort(reason: Error): void; release(): void } {
  const controller = new AbortController();
  const onShutdown = () => controller.abort(shutdown.reason);
  if (shutdown.aborted) onShutdown();
  else shutdown.addEventListener("abort", onShutdown, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    release: () => shutdown.removeEventListener("abort", onShutdown),
  };
}
const round = (ms: number) => Math.round(ms * 10) / 10;
