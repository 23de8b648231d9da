import { readFileSync } from "node:fs";
import type { Subprocess } from "bun";

/** A measured target running as its own process, so its RSS and CPU are its own. */
export interface Target {
  name: string;
  pid: number;
  baseUrl: string;
  /** Where the bench handler inside the service reports how many orders it ran. */
  statsUrl?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  cmd: string[];
  env: Record<string, string>;
  port: number;
  /** Path answered 200 once the target is ready to take load. */
  readyPath?: string;
  timeoutMs?: number;
  /** Where the target's stdout/stderr go; logs are written, as in production, but not shown. */
  logFile: string;
}

/** Starts a target and waits until it answers on its port; its output goes to `logFile`. */
export async function startTarget(options: StartOptions): Promise<Target> {
  const proc: Subprocess = Bun.spawn(options.cmd, {
    env: { ...process.env, ...options.env },
    stdout: Bun.file(options.logFile),
    stderr: Bun.file(`${options.logFile}.err`),
    cwd: new URL("../..", import.meta.url).pathname,
  });
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (proc.exitCode !== null) {
      const err = await Bun.file(`${options.logFile}.err`)
        .text()
        .catch(() => "");
      throw new Error(`${options.name} exited with ${proc.exitCode} before it was ready: ${err.slice(-2000)}`);
    }
    try {
      const response = await fetch(`${baseUrl}${options.readyPath ?? "/healthz"}`);
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`${options.name} did not become ready within ${options.timeoutMs ?? 30_000} ms`);
    }
    await Bun.sleep(100);
  }
  return {
    name: options.name,
    pid: proc.pid,
    baseUrl,
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(15_000).then(() => false)]);
      if (!exited) {
        proc.kill("SIGKILL");
        await proc.exited;
      }
    },
  };
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, in MiB. */
export function memoryOf(pid: number): { peakMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { peakMb: field("VmHWM"), rssMb: field("VmRSS") };
}

export { freePort } from "../../test/helpers/free-port";

/** Runs a one-shot measurement script as its own process and parses the JSON line it prints last. */
export async function runScript<T>(cmd: string[], env: Record<string, string>): Promise<T> {
  const proc = Bun.spawn(cmd, {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    cwd: new URL("../..", import.meta.url).pathname,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const last = stdout.trim().split("\n").pop() ?? "";
  if (code !== 0) throw new Error(`${cmd.join(" ")} failed (exit ${code}): ${stderr.slice(-2000)}`);
  return JSON.parse(last) as T;
}
