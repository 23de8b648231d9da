/**
 * `bun run build`: regenerates the built-in handler list, then compiles the service into one
 * executable (default dist/order-pipeline; `bun scripts/build.ts <outfile>` for another path).
 */
import { join } from "node:path";
import { handlerNames, OUTPUT_FILE, renderBuiltinHandlers } from "./generate-builtin-handlers";

const ROOT = join(import.meta.dir, "..");
export const DEFAULT_OUTFILE = join(ROOT, "dist/order-pipeline");

/**
 * Compiles src/main.ts with the handlers and rascal.json it imports. Bytecode makes start-up
 * several times faster (no parsing at launch); the code is left unminified so stack traces
 * keep readable names.
 */
export async function compileBinary(outfile: string = DEFAULT_OUTFILE): Promise<void> {
  const build = Bun.spawn(
    ["bun", "build", "--compile", "--bytecode", join(ROOT, "src/main.ts"), "--outfile", outfile],
    {
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    },
  );
  if ((await build.exited) !== 0) throw new Error(`bun build --compile failed (exit ${build.exitCode})`);
}

if (import.meta.main) {
  await Bun.write(OUTPUT_FILE, renderBuiltinHandlers(handlerNames()));
  await compileBinary(process.argv[2] ?? DEFAULT_OUTFILE);
}
