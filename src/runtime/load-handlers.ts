import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { SubscriptionPlan } from "../broker/topology";
import type { Handler } from "../handler";
import { builtInHandlers } from "./builtin-handlers";

export class HandlerLoadError extends Error {
  override name = "HandlerLoadError";
}

const EXTENSIONS = [".ts", ".js", ".mjs"];
/**
 * The project's handlers/ folder: the built-in handlers when running from source. The compiled
 * binary has them registered in builtInHandlers instead (this path does not exist there).
 */
const SOURCE_HANDLERS_DIR = join(import.meta.dir, "../../handlers");

function handlerFile(dir: string, name: string): string | undefined {
  return EXTENSIONS.map((extension) => resolve(join(dir, `${name}${extension}`))).find((path) => existsSync(path));
}

/**
 * Loads every handler named in rascal.json before anything is consumed: a file in
 * `handlersDir` wins, then the handlers built into the binary. Fails naming the file and key.
 */
export async function loadHandlers(
  plans: readonly SubscriptionPlan[],
  handlersDir: string,
  source: string,
  builtIns: Record<string, unknown> = builtInHandlers,
): Promise<Map<string, Handler>> {
  const loaded = new Map<string, Handler>();
  for (const plan of plans) {
    const name = plan.handler!;
    if (loaded.has(name)) continue;
    const key = `${source}: subscriptions.${plan.name}.handler`;
    const file = handlerFile(handlersDir, name);
    const builtInFile = name in builtIns ? undefined : handlerFile(SOURCE_HANDLERS_DIR, name);
    let module: unknown;
    let where: string;
    if (file || builtInFile) {
      where = file ?? `built-in handler "${name}" (${builtInFile})`;
      try {
        module = await import((file ?? builtInFile)!);
      } catch (error) {
        throw new HandlerLoadError(`${key}: handler file ${where} failed to load: ${(error as Error).message}`);
      }
    } else if (name in builtIns) {
      where = `built-in handler "${name}"`;
      module = builtIns[name];
    } else {
      throw new HandlerLoadError(
        `${key}: unknown handler "${name}": no file ${join(handlersDir, `${name}.ts`)} ` +
          "and no built-in handler of that name",
      );
    }
    const handler = (module as { default?: unknown } | undefined)?.default;
    if (typeof handler !== "function") {
      throw new HandlerLoadError(
        `${key}: ${where} must have a default export that is a function (found ${typeof handler})`,
      );
    }
    loaded.set(name, handler as Handler);
  }
  return loaded;
}
