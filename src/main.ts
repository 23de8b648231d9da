import { TopologyError, loadTopology } from "./broker/topology";
import { ConfigError, loadConfig } from "./config";
import { ConnectError } from "./connect-error";
import { createLogger } from "./log";
import { HandlerLoadError } from "./runtime/load-handlers";
import { startService } from "./service";

/** Errors whose message is the whole story: printed without a stack, exit code 1. */
const STARTUP_ERRORS = [ConfigError, TopologyError, HandlerLoadError, ConnectError];

async function main(argv: string[]): Promise<void> {
  const config = loadConfig();
  if (argv.includes("--print-topology") || (argv[0] === "topology" && argv[1] === "print")) {
    const topology = loadTopology({
      path: config.RASCAL_CONFIG,
      amqpUrlOverride: config.amqpUrlOverride ? config.amqpUrl : undefined,
      defaultAmqpUrl: config.amqpUrl,
    });
    console.log(JSON.stringify(redactUrls(topology.rascal), null, 2));
    return;
  }

  const log = createLogger(config.LOG_LEVEL);
  const service = await startService({ config, log, listen: true });
  const shutdown = (signal: string) => {
    log.info({ signal }, "signal received");
    service.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

/** The printed topology must not leak broker credentials. */
function redactUrls(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field) =>
    key === "url" && typeof field === "string" ? field.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@") : field,
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (STARTUP_ERRORS.some((type) => error instanceof type)) {
    console.error(`order-pipeline: cannot start: ${(error as Error).message}`);
  } else {
    console.error("order-pipeline: cannot start:", error);
  }
  process.exit(1);
});
