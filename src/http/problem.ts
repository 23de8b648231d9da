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

/** An RFC 9457 problem document. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

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

  /** The problem+json document. */
  body(): ProblemBody {
    const body: ProblemBody = {
      type: this.options.type ?? "about:blank",
      title: TITLES[this.status] ?? "Error",
      status: this.status,
      detail: this.detail,
    };
    if (this.options.errors) body.errors = this.options.errors;
    return body;
  }

  getResponse(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { "Content-Type": "application/problem+json", ...this.options.headers },
    });
  }
}

/** The 404 of a path no route takes (also of the admin API and console while ADMIN_TOKEN is unset). */
export function noRoute(c: Context): ProblemError {
  return new ProblemError(404, `no route for ${c.req.method} ${c.req.path}`);
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

/** How many field errors a problem lists; a body with thousands of bad keys gets a short answer. */
export const MAX_LISTED_ERRORS = 20;

/**
 * Zod issues as `{path, message}` with dotted paths (`items.0.quantity`). An unknown field is
 * reported at its own path (`items.0.colour`), not at the object that holds it. At most
 * MAX_LISTED_ERRORS are listed; past that a last entry at path `(more)` says how many were left out.
 */
export function fieldErrors(issues: readonly Issue[], prefix?: string): FieldError[] {
  const dotted = (path: readonly PropertyKey[]) =>
    [prefix, ...path.map(String)].filter((part) => part !== undefined && part !== "").join(".") || "(body)";
  const listed: FieldError[] = [];
  let total = 0;
  for (const issue of issues) {
    const keys = issue.code === "unrecognized_keys" && issue.keys ? issue.keys : undefined;
    const count = keys ? keys.length : 1;
    for (let index = 0; index < count && listed.length < MAX_LISTED_ERRORS; index++) {
      listed.push(
        keys
          ? { path: dotted([...issue.path, keys[index]!]), message: "unknown field" }
          : { path: dotted(issue.path), message: issue.message },
      );
    }
    total += count;
  }
  if (total > listed.length)
    listed.push({ path: "(more)", message: `${total - listed.length} more errors not listed` });
  return listed;
}
