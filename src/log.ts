import "./tracing-channel-shim";
import { writeSync } from "node:fs";
import pino from "pino";

export type Logger = pino.Logger;

/**
 * The one root logger; child loggers carry requestId, orderId, messageId and subscription.
 * `destination` defaults to stdout (see `stdoutPerTurn`), shared by every logger of the process;
 * the CLI logs to stderr so its stdout
 * stays machine-readable, and tests capture lines in memory.
 */
export function createLogger(level: string, destination: pino.DestinationStream = sharedStdout()): Logger {
  return pino(
    {
      level,
      base: { service: "order-pipeline" },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Defence in depth: nothing that looks like a credential is printed even if passed by mistake.
      formatters: { log: censorSecrets },
      // A child logger's bindings bypass `formatters.log`; serializers apply to them too.
      serializers: Object.fromEntries([...SECRET_FIELDS].map((field) => [field, () => CENSOR])),
    },
    destination,
  );
}

/** Fields never printed, at the top of a log line or one level down (`headers.authorization`). */
const SECRET_FIELDS = new Set(["password", "authorization", "url"]);
const CENSOR = "[redacted]";

/**
 * What pino's `redact` option did for these paths, for a fraction of its cost: it parsed its
 * paths again on every line (4 % of the service's CPU). Returns the object itself when it holds
 * nothing to hide, else a copy; the caller's object is never changed.
 */
export function censorSecrets(object: Record<string, unknown>, depth = 0): Record<string, unknown> {
  let copy: Record<string, unknown> | undefined;
  for (const key in object) {
    const value = object[key];
    let censored = value;
    if (SECRET_FIELDS.has(key)) censored = CENSOR;
    else if (depth === 0 && isPlainObject(value)) censored = censorSecrets(value, 1);
    if (censored === value) continue;
    copy ??= { ...object };
    copy[key] = censored;
  }
  return copy ?? object;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
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

/**
 * `text` without the passwords and tokens the environment holds (the URLs' passwords, plain
 * and percent-decoded, ADMIN_TOKEN, CALLBACK_SECRET), for printing an error nobody shaped.
 */
export function redactEnvironmentSecrets(text: string, env: Record<string, string | undefined>): string {
  const secrets = [env.ADMIN_TOKEN, env.CALLBACK_SECRET];
  // AMQP_URL may list a cluster's nodes, comma-separated.
  for (const url of [...(env.AMQP_URL?.split(",") ?? []), env.REDIS_URL]) {
    // By pattern, not by URL parsing: the URL may be the thing that did not parse.
    const password = url?.trim().match(/^[a-z]+:\/\/[^:@/]*:([^@/]+)@/i)?.[1];
    if (password) secrets.push(password, decodedOrSame(password));
  }
  return secrets
    .filter((secret): secret is string => !!secret)
    .reduce((redacted, secret) => redacted.replaceAll(secret, "***"), text);
}

function decodedOrSame(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

let stdout: pino.DestinationStream | undefined;

/** One stdout destination per process, however many loggers write to it: one buffer, one exit hook. */
function sharedStdout(): pino.DestinationStream {
  return (stdout ??= stdoutPerTurn());
}

/**
 * Standard output, written once per turn of the event loop: the lines logged in one turn (the
 * request and message lines of many orders under load) leave in one write instead of one system
 * call each, which took about a tenth of the service's CPU time. A line waits at most until the
 * end of its turn; what is pending is written on exit. (pino.destination does not fit: its
 * `flushSync` also fsyncs, and it measures every line's byte length.)
 */
function stdoutPerTurn(): pino.DestinationStream {
  let pending = "";
  const flush = () => {
    const text = pending;
    pending = "";
    if (text) writeFully(1, Buffer.from(text));
  };
  process.on("exit", flush);
  return {
    write(line: string) {
      if (pending === "") setImmediate(flush);
      pending += line;
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `bytes`, waiting out a full non-blocking pipe; a closed stdout drops the lines. */
function writeFully(fd: number, bytes: Buffer): void {
  let rest = bytes;
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(fd, rest));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}
