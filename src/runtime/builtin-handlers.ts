/**
 * The handlers compiled into the binary, by name. `bun build --compile` bundles only statically
 * imported files, so `bun run build` compiles an entry point that imports every handlers/*.ts
 * file and registers it here before the service starts (scripts/build.ts). Run from source,
 * nothing is registered: the built-in handlers are the files of handlers/ (load-handlers.ts).
 */
export const builtInHandlers: Record<string, unknown> = {};

/** Called by the compiled entry point only, before src/main.ts runs. */
export function registerBuiltInHandlers(modules: Record<string, unknown>): void {
  Object.assign(builtInHandlers, modules);
}
