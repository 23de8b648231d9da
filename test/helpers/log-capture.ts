import { createLogger, type Logger } from "../../src/log";

export type LogLine = Record<string, unknown> & { msg?: string };

/** The production logger (same fields, same redaction), writing JSON lines into memory. */
export function captureLogs(): { log: Logger; lines: () => LogLine[] } {
  const raw: string[] = [];
  const log = createLogger("info", { write: (line: string) => void raw.push(line) });
  return { log, lines: () => raw.map((line) => JSON.parse(line) as LogLine) };
}
