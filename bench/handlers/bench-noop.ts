import { countHandled } from "../lib/handled-counter";

/** The bench's order handler: does nothing, so the figures are the pipeline's own cost. */
export default async function benchNoop(): Promise<void> {
  countHandled();
}
