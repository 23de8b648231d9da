import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../problem";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Enforces, in this order, what every JSON endpoint answers before validation:
 * 415 when the body is not JSON, 413 when it is larger than `maxBytes`, 400 when it does not
 * parse. The parsed value is cached so the zod validator does not parse it again.
 */
export function jsonBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]!.trim();
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new ProblemError(415, "the request body must be application/json");
    }
    const declared = Number(c.req.header("Content-Length"));
    if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
    let buffer: ArrayBuffer;
    try {
      buffer = await c.req.arrayBuffer();
    } catch {
      throw tooLarge(maxBytes);
    }
    if (buffer.byteLength > maxBytes) throw tooLarge(maxBytes);
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(buffer));
    } catch {
      throw new ProblemError(400, "the request body is not valid JSON");
    }
    c.req.bodyCache.json = Promise.resolve(parsed);
    await next();
  };
}

function tooLarge(maxBytes: number): ProblemError {
  return new ProblemError(413, `the request body must not exceed ${maxBytes} bytes`);
}
