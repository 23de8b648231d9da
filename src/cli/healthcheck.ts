import type { Config } from "../config";
import type { Output } from "./output";

/**
 * `healthcheck [--ready]`: asks the service on this host (PORT) for /healthz, or /readyz with
 * --ready. Exit 0 when it answers 200, else 1 — what a container HEALTHCHECK needs in an image
 * that has no curl.
 */
export async function healthcheck(config: Config, args: readonly string[], output: Output): Promise<number> {
  const path = args.includes("--ready") ? "/readyz" : "/healthz";
  const url = `http://127.0.0.1:${config.PORT}${path}`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (response.status === 200) return 0;
    output.err(`${url} answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  } catch (error) {
    output.err(`${url} did not answer: ${(error as Error).message}`);
  }
  return 1;
}
