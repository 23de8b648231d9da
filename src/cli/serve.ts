import type { Config } from "../config";
import { createLogger } from "../log";
import { startService } from "../service";

/** Runs the service until SIGTERM/SIGINT, then drains and exits 0 (1 if the drain failed). */
export async function serve(config: Config): Promise<void> {
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
