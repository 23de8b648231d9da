import type { Hono } from "hono";

interface RoutePattern {
  method: string;
  pattern: RegExp;
}

/**
 * The methods an app serves at a path, for a 405's `Allow` header. Read from the app's routes on
 * first use (after every route is registered); middleware (`ALL`) does not count.
 */
// biome-ignore lint/suspicious/noExplicitAny: any app, whatever its environment and schema
export function allowedMethods(app: Hono<any, any, any>): (path: string) => string[] {
  let patterns: RoutePattern[] | undefined;
  return (path) => {
    patterns ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ method: route.method, pattern: toPattern(route.path) }));
    const methods = new Set(patterns.filter(({ pattern }) => pattern.test(path)).map(({ method }) => method));
    if (methods.has("GET")) methods.add("HEAD");
    return [...methods].sort();
  };
}

/** `/orders/:id` → /^\/orders\/[^/]+$/ */
function toPattern(routePath: string): RegExp {
  const source = routePath
    .split("/")
    .map((segment) =>
      segment.startsWith(":") ? "[^/]+" : segment === "*" ? ".*" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("/");
  return new RegExp(`^${source}$`);
}
