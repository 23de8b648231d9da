import type { Deployment } from "./deployment";

/** A fault the suite injects into a running deployment `D` while orders keep coming. */
export interface Scenario<D extends Deployment = Deployment> {
  name: string;
  /** A worker dies without finishing: its started handlers may run again (the guarantees in the README). */
  crashes?: boolean;
  /** The API process itself goes away for a while: clients meet a closed port. */
  apiGoesAway?: boolean;
  /**
   * The API process dies mid-request: connections break without an answer, and the clients
   * send those orders again with the same Idempotency-Key until they get a 202 (409 meanwhile).
   */
  apiCrashes?: boolean;
  /** Customers whose orders share the suite's limit of one order per customer at a time (see Load). */
  slotCustomers?: number;
  /** The fault is certain to leave requests that recorded their order unanswered: retries must take some over. */
  expectsTakeOver?: boolean;
  /** Part of the short version of the suite (`--short`, run by CI). */
  short?: boolean;
  /** Injects the fault while orders keep coming, and undoes it. */
  inject(deployment: D, notes: string[]): Promise<void>;
}
