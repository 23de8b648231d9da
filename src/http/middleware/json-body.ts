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
    const contentType = c.req.header("Content-Type") ?? "";
    if (!JSON_MEDIA_TYPE.test(contentType.split(";")[0]!.trim())) {
      throw new ProblemError(415, "the request body must be application/json");
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType)?.[1]?.toLowerCase();
    if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") {
      throw new ProblemError(415, `charset "${charset.slice(0, 40)}" is not supported: JSON bodies are UTF-8`);
    }
    const coding = c.req.header("Content-Encoding")?.trim().toLowerCase();
    if (coding && coding !== "identity") {
      throw new ProblemError(415, `content coding "${coding}" is not supported: send the body uncompressed`);
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
    // The route's own media-type gate (@hono/zod-openapi) is stricter than RFC 9110: it refuses
    // `application/json ; charset=utf-8` and `application/json;`. The body passed ours and is
    // parsed, so the gate is shown the plain type.
    if (contentType !== "application/json") c.req.raw.headers.set("Content-Type", "application/json");
    await next();
  };
}

function tooLarge(maxBytes: number): ProblemError {
  return new ProblemError(413, `the request body must not exceed ${maxBytes} bytes`);
}
