/** What one POST /orders ended as, from the client's side. */
export type Outcome =
  /** `replayed`: the answer carried `Idempotent-Replayed` (an earlier request with the key got the order). */
  /** `at`: when the answer came (performance.now()). */
  | { kind: "accepted"; id: string; ms: number; replayed: boolean; at: number }
  /** 409: an earlier request with the same key still holds it. */
  | { kind: "in_flight" }
  /** `leavingMs`: a stopping server's answer (`Connection: close`), and the Retry-After it asked for. */
  | { kind: "unavailable"; retryAfter: boolean; ms: number; leavingMs?: number }
  | { kind: "other"; status: number }
  /** Nothing listens on the port: the process is gone (not a response). */
  | { kind: "refused" }
  /** The connection broke before an answer came: the server dropped a request it had taken. */
  | { kind: "dropped"; code: string }
  | { kind: "hung" };

export interface LoadOptions {
  /** Where to send the next request (a deployment with several APIs hands them out in turn). */
  baseUrl: () => string;
  /** Concurrent clients, each sending one order after another. */
  clients: number;
  /** Pause between two orders of one client. */
  pauseMs: number;
  /** A request without an answer after this long counts as hung (the contract: never hangs). */
  hangMs: number;
  /**
   * Clients send an order again with the same Idempotency-Key and body until it is answered
   * 202, as a client should when its request got no answer or a 503 — also after the load
   * stops, for at most this long. Without it, every request has a new key and is sent once.
   */
  retrySameKeyMs?: number;
  /** Customers sharing the concurrency limit (see newOrder); none by default. */
  slotCustomers?: number;
}

/** How often a client asks again while its key is held by an earlier request (409). */
const IN_FLIGHT_PAUSE_MS = 500;

interface Order {
  key: string;
  body: string;
}

/** How long the orders of the few customers that share concurrency slots hold their handler. */
const SLOT_CUSTOMER_HOLD_MS = 500;

function newOrder(slotCustomers: number): Order {
  const dice = Math.random();
  const holdMs = dice < 0.005 ? 5000 : dice < 0.05 ? 1500 : Math.floor(Math.random() * 40);
  // The suite limits each customer to one order at a time: most customers are new ones, so that
  // the limit holds nothing back, but with `slotCustomers` one order in fifty is of a few customers.
  const customerId =
    slotCustomers > 0 && Math.random() < 0.02
      ? `hold-${SLOT_CUSTOMER_HOLD_MS}-slot-${Math.floor(Math.random() * slotCustomers)}`
      : `hold-${holdMs}-${crypto.randomUUID().slice(0, 8)}`;
  const body = JSON.stringify({
    customerId,
    items: [{ sku: "SKU-F", quantity: 1, unitPrice: 9.99 }],
  });
  return { key: crypto.randomUUID(), body };
}

/**
 * Concurrent clients posting orders, each with its own Idempotency-Key (sent again until
 * answered with `retrySameKeyMs`). Most handlers run briefly; one order in twenty holds its
 * handler for 1.5 s so that faults catch it mid-run, and one in two hundred for 5 s, longer
 * than the SIGTERM drain time.
 */
export class Load {
  readonly outcomes: Outcome[] = [];
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(private readonly options: LoadOptions) {}

  start(): void {
    this.running = true;
    this.workers = Array.from({ length: this.options.clients }, () => this.client());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async client(): Promise<void> {
    let unanswered: Order | undefined;
    let giveUpAt = Infinity;
    while (this.running || (unanswered && Date.now() < giveUpAt)) {
      if (!this.running && giveUpAt === Infinity) giveUpAt = Date.now() + (this.options.retrySameKeyMs ?? 0);
      const order = unanswered ?? newOrder(this.options.slotCustomers ?? 0);
      const outcome = await this.send(order);
      this.outcomes.push(outcome);
      unanswered = this.options.retrySameKeyMs !== undefined && outcome.kind !== "accepted" ? order : undefined;
      if (unanswered && outcome.kind === "in_flight") {
        await Bun.sleep(IN_FLIGHT_PAUSE_MS);
        continue;
      }
      // A server that is going away asked this client to come back later, as the API says to:
      // reconnecting at once would race the listener's close (Bun resets a connection it
      // accepted but had not read yet when it stops listening). Other 503s are retried at once,
      // to keep the pressure on while the fault lasts.
      await Bun.sleep(
        outcome.kind === "unavailable" && outcome.leavingMs !== undefined ? outcome.leavingMs : this.options.pauseMs,
      );
    }
  }

  private async send(order: Order): Promise<Outcome> {
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl()}/orders`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": order.key },
        body: order.body,
        signal: AbortSignal.timeout(this.options.hangMs),
      });
    } catch (error) {
      if ((error as Error).name === "TimeoutError") return { kind: "hung" };
      const code = (error as { code?: string }).code ?? (error as Error).name;
      return code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "dropped", code };
    }
    const ms = performance.now() - started;
    if (response.status === 202) {
      const replayed = response.headers.get("idempotent-replayed") === "true";
      const { id } = (await response.json()) as { id: string };
      return { kind: "accepted", id, ms, replayed, at: performance.now() };
    }
    await response.arrayBuffer();
    if (response.status === 409) return { kind: "in_flight" };
    if (response.status === 503) {
      const retryAfter = response.headers.get("retry-after");
      const leaving = response.headers.get("connection")?.toLowerCase() === "close" && retryAfter !== null;
      return {
        kind: "unavailable",
        retryAfter: retryAfter !== null,
        ms,
        ...(leaving ? { leavingMs: Number(retryAfter) * 1000 } : {}),
      };
    }
    return { kind: "other", status: response.status };
  }
}
