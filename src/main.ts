import { TopologyError } from "./broker/topology";
import { processOutput } from "./cli/output";
import { isCommand, runCommand } from "./cli/run-command";
import { serve } from "./cli/serve";
import { ConfigError, loadConfig } from "./config";
import { ConnectError } from "./connect-error";
import { redactEnvironmentSecrets } from "./log";
import { HandlerLoadError } from "./runtime/load-handlers";

/** Errors whose message is the whole story: printed without a stack, exit code 1. */
const STARTUP_ERRORS = [ConfigError, TopologyError, HandlerLoadError, ConnectError];

/** No arguments: run the service. Otherwise an operator command (see src/cli/run-command.ts). */
async function main(argv: string[]): Promise<void> {
  const config = loadConfig();
  if (!isCommand(argv)) return serve(config);
  const code = await runCommand(argv, config, processOutput);
  // Exiting at once could cut off output still buffered for a pipe.
  await Promise.all(
    [process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))),
  );
  process.exit(code);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (STARTUP_ERRORS.some((type) => error instanceof type)) {
    // A handler that failed to load may have put anything in its message: secrets cut out too.
    console.error(`order-pipeline: cannot start: ${redactEnvironmentSecrets((error as Error).message, process.env)}`);
  } else {
    // Printed whole (stack, a client library's fields such as the URL it was given): secrets cut out.
    console.error(`order-pipeline: cannot start: ${redactEnvironmentSecrets(Bun.inspect(error), process.env)}`);
  }
  process.exit(1);
});
