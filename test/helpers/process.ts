import type { Subprocess } from "bun";

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;
const REPO = new URL("../..", import.meta.url).pathname;

/** A port nobody listens on right now. */
export function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

/** Starts `bun src/main.ts` directly (not `bun run`, so SIGKILL reaches the service itself). */
export function spawnService(env: Record<string, string>): Subprocess<"ignore", "pipe", "pipe"> {
  return Bun.spawn(["bun", MAIN], {
    cwd: REPO,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "warn", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Waits until GET /healthz answers 200, or the process exits. */
export async function waitForHealthy(port: number, child: Subprocess, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`service exited early (${child.exitCode ?? child.signalCode})`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error("service did not become healthy");
}
