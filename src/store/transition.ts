/** A history entry as stored: JSON `{status, at, detail?}`. */
export function historyEntry(status: string, at: string, detail?: string): string {
  return JSON.stringify(detail === undefined ? { status, at } : { status, at, detail });
}

/** What a status write changed: `order` is set when an order took the new status. */
export interface Transition {
  transitioned: boolean;
  order?: { historyLength: number; doc: string };
}

/** Reads the `{1, length, doc}` / `{0}` answer of the FINISH and EXPIRE scripts. */
export function toTransition(answer: unknown): Transition {
  const [changed, historyLength, doc] = answer as [number, number?, string?];
  if (changed !== 1) return { transitioned: false };
  return historyLength === undefined || doc === undefined
    ? { transitioned: true }
    : { transitioned: true, order: { historyLength, doc } };
}
