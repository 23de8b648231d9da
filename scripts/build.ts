/**
 * `bun run build`: compiles the service into one executable (default dist/order-pipeline;
 * `bun scripts/build.ts <outfile>` for another path), with every handlers/*.ts file and the
 * default rascal.json inside. Nothing tracked is modified: the entry point that imports the
 * handlers is generated under dist/.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");
export const DEFAULT_OUTFILE = join(ROOT, "dist/order-pipeline");
const HANDLERS_DIR = join(ROOT, "handlers");
const ENTRY_DIR = join(ROOT, "dist/entry");
/** The names a subscription's `handler` key may use (see src/broker/topology.ts). */
const HANDLER_NAME = /^[A-Za-z0-9_-]+$/;

/** The handler names served by `dir`: every `<name>.ts` whose name a subscription can use. */
export function handlerNames(dir: string = HANDLERS_DIR): string[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
    .map((file) => file.slice(0, -3))
    .filter((name) => HANDLER_NAME.test(name))
    .sort();
}

/**
 * The entry point's two files. ES modules evaluate their imports in order, so `register.ts`
 * has filled the built-in handlers before src/main.ts starts the service.
 */
export function renderEntry(names: readonly string[]): { register: string; entry: string } {
  const from = (path: string) => JSON.stringify(relative(ENTRY_DIR, join(ROOT, path)));
  const imports = names.map((name, index) => `import * as handler${index} from ${from(`handlers/${name}`)};`);
  const entries = names.map((name, index) => `  ${JSON.stringify(name)}: handler${index},`);
  const register = [
    `import { registerBuiltInHandlers } from ${from("src/runtime/builtin-handlers")};`,
    ...imports,
    "",
    "registerBuiltInHandlers({",
    ...entries,
    "});",
    "",
  ].join("\n");
  const entry = ['import "./register";', `import ${from("src/main")};`, ""].join("\n");
  return { register, entry };
}

/**
 * Compiles the service with the handlers of handlers/ and the rascal.json it imports. Bytecode
 * makes start-up several times faster (no parsing at launch); the code is left unminified so
 * stack traces keep readable names.
 */
export async function compileBinary(outfile: string = DEFAULT_OUTFILE): Promise<void> {
  const { register, entry } = renderEntry(handlerNames());
  mkdirSync(ENTRY_DIR, { recursive: true });
  await Bun.write(join(ENTRY_DIR, "register.ts"), register);
  await Bun.write(join(ENTRY_DIR, "main.ts"), entry);
  const build = Bun.spawn(
    ["bun", "build", "--compile", "--bytecode", join(ENTRY_DIR, "main.ts"), "--outfile", outfile],
    {
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  if ((await build.exited) !== 0) throw new Error(`bun build --compile failed (exit ${build.exitCode})`);
}

if (import.meta.main) await compileBinary(process.argv[2] ?? DEFAULT_OUTFILE);
