import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { ProblemError } from "../problem";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Admin endpoints: absent (404) without ADMIN_TOKEN, 401 without the right bearer token.
 * Comparing digests keeps the comparison constant-time whatever the token's length.
 */
export function bearerToken(token: string | undefined): MiddlewareHandler {
  const expected = token ? digest(token) : undefined;
  return async (c, next) => {
    if (!expected) throw new ProblemError(404, `no route for ${c.req.method} ${c.req.path}`);
    const header = c.req.header("Authorization") ?? "";
    // The scheme name is case-insensitive (RFC 9110 §11.1); the token is not.
    const match = /^Bearer +(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      throw new ProblemError(401, "a valid bearer token is required", {
        headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
      });
    }
    await next();
  };
}
