import { createHmac } from "node:crypto";

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as sent in X-Signature. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}
