import pino from "pino";

export type Logger = pino.Logger;

/**
 * The one root logger; child loggers carry requestId, orderId, messageId and subscription.
 * `destination` defaults to stdout; the CLI logs to stderr so its stdout stays machine-readable,
 * and tests capture lines in memory.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: "order-pipeline" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Defence in depth: nothing that looks like a credential is printed even if passed by mistake.
    redact: {
      paths: ["password", "*.password", "authorization", "*.authorization", "headers.authorization", "url", "*.url"],
      censor: "[redacted]",
    },
  }, destination);
}

/** Hides the password in a connection URL so it can be logged. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "[unparseable url]";
  }
}
