/** W3C Trace Context `traceparent`: version-traceid-parentid-flags, lower-case hex. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The request's `traceparent` when well-formed, else undefined. Only a valid one is logged
 * and carried into message headers, so a client cannot inject arbitrary text there.
 */
export function validTraceparent(header: string | undefined): string | undefined {
  return header && TRACEPARENT.test(header) ? header : undefined;
}
