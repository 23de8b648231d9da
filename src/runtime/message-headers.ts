/**
 * The only headers that travel from message to message. Everything else a message carries
 * (Rascal's bookkeeping, x-death, whatever a publisher added) stays behind.
 */
const CARRIED = ["x-request-id", "x-order-id", "traceparent"] as const;
const SAFE_VALUE = /^[\x21-\x7e]{1,256}$/;

export function carriedHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const carried: Record<string, string> = {};
  if (!headers) return carried;
  for (const name of CARRIED) {
    const value = headers[name];
    if (typeof value === "string" && SAFE_VALUE.test(value)) carried[name] = value;
  }
  return carried;
}
