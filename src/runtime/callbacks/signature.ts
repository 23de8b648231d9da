import { createHmac } from "node:crypto";

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as sent in X-Signature. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/**
 * The Standard Webhooks headers: the signature covers the message id and the timestamp with
 * the body, so a receiver can reject a replayed or delayed callback. The key is the secret's
 * bytes as they are (a Standard Webhooks library verifies with its "raw" secret format).
 */
export function standardWebhookHeaders(options: {
  id: string;
  body: string;
  secret: string;
  now?: Date;
}): Record<string, string> {
  const timestamp = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const signature = createHmac("sha256", options.secret)
    .update(`${options.id}.${timestamp}.${options.body}`)
    .digest("base64");
  return {
    "webhook-id": options.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${signature}`,
  };
}
