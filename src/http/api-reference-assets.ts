// The API reference's browser bundle, from the pinned @scalar/api-reference package (its export
// map does not list the file, hence the path). `with { type: "file" }` embeds it in the compiled
// binary; run from source it is read from node_modules.
// @ts-expect-error: a JavaScript file without types, imported for its path
import scriptPath from "../../node_modules/@scalar/api-reference/dist/browser/standalone.js" with { type: "file" };

/** Where /docs loads the reference from: the service itself, so it works with no internet access. */
export const API_REFERENCE_SCRIPT = "/docs/assets/api-reference.js";

export function serveApiReferenceScript(): Response {
  return new Response(Bun.file(scriptPath), {
    headers: { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=3600" },
  });
}
