/** A listing's `cursor` that the listing did not give out (the admin API answers 400). */
export class InvalidCursorError extends Error {
  override name = "InvalidCursorError";
}
