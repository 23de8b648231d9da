import type { HandlerContext } from "../../src/handler";
import { countHandled } from "../lib/handled-counter";

/** The bench's handler: does nothing, so the figures are the pipeline's own cost. */
export default async function benchNoop(_message: unknown, ctx: HandlerContext): Promise<void> {
  countHandled(ctx.subscription);
}
