/**
 * Thrown by a handler when retrying cannot help (bad data, out of stock): the message goes to
 * the dead letters at once. Recognised by `name`, so handlers may also define their own class.
 */
export class PermanentError extends Error {
  override name = "PermanentError";
}

export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentError || (error instanceof Error && error.name === "PermanentError");
}
