import { z } from "@hono/zod-openapi";

/** How every error looks in /openapi.json: RFC 9457 problem+json. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

/** Every response carries it (taken from the request when valid, else generated). */
const requestIdHeader = {
  "X-Request-Id": z
    .string()
    .openapi({ description: "The request's id; it appears in every log line about this order" }),
};

/** The headers of a documented response: X-Request-Id, and Retry-After where the client should come back. */
export function responseHeaders(options: { retryAfter?: boolean; extra?: Record<string, z.ZodType> } = {}) {
  return z.object({
    ...requestIdHeader,
    ...(options.retryAfter
      ? { "Retry-After": z.string().openapi({ description: "Seconds to wait before trying again" }) }
      : {}),
    ...options.extra,
  });
}

/** A documented problem+json answer. */
export function problemResponse(
  description: string,
  options: { retryAfter?: boolean; extra?: Record<string, z.ZodType> } = {},
) {
  return {
    description,
    headers: responseHeaders(options),
    content: { "application/problem+json": { schema: problemSchema } },
  };
}
