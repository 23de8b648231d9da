import type { HandlerContext } from "../../src/handler";
import { countHandled } from "../lib/handled-counter";

/** How long each run holds, like a handler that calls another service. */
const HOLD_MS = 10;

/** The flow-control bench's order handler: takes HOLD_MS, so that runs of one customer would overlap. */
export default async function benchHold(_message: unknown, ctx: HandlerContext): Promise<void> {
  await Bun.sleep(HOLD_MS);
  countHandled(ctx.subscription);
}
