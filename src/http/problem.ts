import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface FieldError {
  path: string;
  message: string;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** An error that carries its RFC 9457 problem+json answer; thrown anywhere, answered by onError. */
export class ProblemError extends Error {
  override name = "ProblemError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string>; type?: string } = {},
  ) {
    super(detail);
  }

  getResponse(): Response {
    const body: Record<string, unknown> = {
      type: this.options.type ?? "about:blank",
      title: TITLES[this.status] ?? "Error",
      status: this.status,
      detail: this.detail,
    };
    if (this.options.errors) body.errors = this.options.errors;
    return new Response(JSON.stringify(body), {
      status: this.status,
      headers: { "Content-Type": "application/problem+json", ...this.options.headers },
    });
  }
}

/** Answers with a problem, keeping headers already set on the context (X-Request-Id). */
export function problem(c: Context, error: ProblemError): Response {
  const response = error.getResponse();
  c.res.headers.forEach((value, key) => {
    if (!response.headers.has(key)) response.headers.set(key, value);
  });
  return response;
}

interface Issue {
  path: readonly PropertyKey[];
  message: string;
  code?: string;
  keys?: readonly string[];
}

/**
 * Zod issues as `{path, message}` with dotted paths (`items.0.quantity`). An unknown field is
 * reported at its own path (`items.0.colour`), not at the object that holds it.
 */
export function fieldErrors(issues: readonly Issue[], prefix?: string): FieldError[] {
  const dotted = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter((part) => part !== undefined && part !== "").join(".") || "(body)";
  return issues.flatMap((issue) =>
    issue.code === "unrecognized_keys" && issue.keys
      ? issue.keys.map((key) => ({ path: dotted([...issue.path, key]), message: "unknown field" }))
      : [{ path: dotted(issue.path), message: issue.message }],
  );
}
