/** What one POST /orders ended as, from the client's side. */
export type Outcome =
  | { kind: "accepted"; id: string; ms: number }
  /** `leavingMs`: a stopping server's answer (`Connection: close`), and the Retry-After it asked for. */
  | { kind: "unavailable"; retryAfter: boolean; ms: number; leavingMs?: number }
  | { kind: "other"; status: number }
  /** Nothing listens on the port: the process is gone (not a response). */
  | { kind: "refused" }
  /** The connection broke before an answer came: the server dropped a request it had taken. */
  | { kind: "dropped"; code: string }
  | { kind: "hung" };

export interface LoadOptions {
  baseUrl: () => string;
  /** Concurrent clients, each sending one order after another. */
  clients: number;
  /** Pause between two orders of one client. */
  pauseMs: number;
  /** A request without an answer after this long counts as hung (the contract: never hangs). */
  hangMs: number;
}

/**
 * Concurrent clients posting orders, each with its own Idempotency-Key. Most handlers run
 * briefly; one order in twenty holds its handler for 1.5 s so that faults catch it mid-run,
 * and one in two hundred for 5 s, longer than the SIGTERM drain time.
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
    while (this.running) {
      const outcome = await this.send();
      this.outcomes.push(outcome);
      // A server that is going away asked this client to come back later, as the API says to:
      // reconnecting at once would race the listener's close (Bun resets a connection it
      // accepted but had not read yet when it stops listening). Other 503s are retried at once,
      // to keep the pressure on while the fault lasts.
      await Bun.sleep(outcome.kind === "unavailable" && outcome.leavingMs !== undefined ? outcome.leavingMs : this.options.pauseMs);
    }
  }

  private async send(): Promise<Outcome> {
    const dice = Math.random();
    const holdMs = dice < 0.005 ? 5000 : dice < 0.05 ? 1500 : Math.floor(Math.random() * 40);
    const body = JSON.stringify({ customerId: `hold-${holdMs}`, items: [{ sku: "SKU-F", quantity: 1, unitPrice: 9.99 }] });
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl()}/orders`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
        body,
        signal: AbortSignal.timeout(this.options.hangMs),
      });
    } catch (error) {
      if ((error as Error).name === "TimeoutError") return { kind: "hung" };
      const code = (error as { code?: string }).code ?? (error as Error).name;
      return code === "ECONNREFUSED" ? { kind: "refused" } : { kind: "dropped", code };
    }
    const ms = performance.now() - started;
    if (response.status === 202) return { kind: "accepted", id: ((await response.json()) as { id: string }).id, ms };
    await response.arrayBuffer();
    if (response.status === 503) {
      const retryAfter = response.headers.get("retry-after");
      const leaving = response.headers.get("connection")?.toLowerCase() === "close" && retryAfter !== null;
      return { kind: "unavailable", retryAfter: retryAfter !== null, ms, ...(leaving ? { leavingMs: Number(retryAfter) * 1000 } : {}) };
    }
    return { kind: "other", status: response.status };
  }
}
