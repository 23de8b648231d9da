import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { noRoute, ProblemError } from "../problem";

const digest = (text: string) => createHash("sha256").update(text).digest();

/**
 * Whether a candidate is the admin token. Comparing digests keeps the comparison constant-time
 * whatever the candidate's length. The admin API's bearer check and the console's sign-in use it.
 */
export function tokenMatcher(token: string): (candidate: string) => boolean {
  const expected = digest(token);
  return (candidate) => timingSafeEqual(digest(candidate), expected);
}

/** Admin endpoints: absent (404) without ADMIN_TOKEN, 401 without the right bearer token. */
export function bearerToken(token: string | undefined): MiddlewareHandler {
  const matches = token ? tokenMatcher(token) : undefined;
  return async (c, next) => {
    if (!matches) throw noRoute(c);
    const header = c.req.header("Authorization") ?? "";
    // The scheme name is case-insensitive (RFC 9110 §11.1); the token is not.
    const match = /^Bearer +(.+)$/i.exec(header);
    if (!match || !matches(match[1]!)) {
      throw new ProblemError(401, "a valid bearer token is required", {
        headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
      });
    }
    await next();
  };
}
