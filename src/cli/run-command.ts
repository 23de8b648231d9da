import pino from "pino";
import type { Config } from "../config";
import { createLogger } from "../log";
import { type Accepts, argumentProblem } from "./arguments";
import { DEAD_LETTERS_USAGE, deadLettersCommand, refuseDeadLettersArguments } from "./dead-letters";
import { healthcheck } from "./healthcheck";
import { openDeadLetters } from "./open-dead-letters";
import { ORDERS_USAGE, ordersCommand, refuseOrdersArguments } from "./orders";
import type { Output } from "./output";
import { printTopology } from "./topology";

export const USAGE = `usage: order-pipeline [command]
  (no command)                 run the service (ROLE decides api, worker or all)
  topology print               the expanded rascal.json as Rascal receives it (credentials masked)
  healthcheck [--ready]        exit 0 if the service on PORT answers /healthz (/readyz) with 200
${DEAD_LETTERS_USAGE.replace(/^order-pipeline /, "").replace(/^/gm, "  ")}
${ORDERS_USAGE.replace(/^order-pipeline /, "").replace(/^/gm, "  ")}
Configuration comes from the same environment variables as the service.`;

/** Runs `run` when `args` fit what the command takes; a usage error (exit 2) otherwise. */
function withArguments(
  args: readonly string[],
  accepts: Accepts,
  output: Output,
  run: () => number | Promise<number>,
): number | Promise<number> {
  const problem = argumentProblem(args, accepts);
  if (!problem) return run();
  output.err(problem);
  output.err(USAGE);
  return 2;
}

/** Whether `argv` asks for an operator command rather than the service. */
export function isCommand(argv: readonly string[]): boolean {
  return argv.length > 0;
}

/** Runs one operator command; returns the process exit code. */
export async function runCommand(argv: readonly string[], config: Config, output: Output): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case "topology":
      if (args[0] === "print")
        return withArguments(args.slice(1), { positionals: 0 }, output, () => printTopology(config, output));
      break;
    case "--print-topology":
      return withArguments(args, { positionals: 0 }, output, () => printTopology(config, output));
    case "healthcheck":
      return withArguments(args, { positionals: 0, flags: ["--ready"] }, output, () =>
        healthcheck(config, args, output),
      );
    case "dead-letters": {
      const refused = refuseDeadLettersArguments(args, output);
      if (refused !== undefined) return refused;
      // Log lines go to stderr so that stdout carries only the command's result.
      const log = createLogger(config.LOG_LEVEL, pino.destination(2));
      const opened = await openDeadLetters(config, log);
      try {
        return await deadLettersCommand(args, opened.deadLetters, output);
      } finally {
        await opened.close();
      }
    }
    case "orders": {
      const refused = refuseOrdersArguments(args, output);
      if (refused !== undefined) return refused;
      return ordersCommand(args, config, createLogger(config.LOG_LEVEL, pino.destination(2)), output);
    }
    case "help":
    case "--help":
    case "-h":
      output.out(USAGE);
      return 0;
  }
  output.err(`unknown command: ${argv.join(" ")}`);
  output.err(USAGE);
  return 2;
}
