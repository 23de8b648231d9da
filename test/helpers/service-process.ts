import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./free-port";

const REPO = new URL("../..", import.meta.url).pathname;
const MAIN = join(REPO, "src/main.ts");
const FIXTURE_HANDLERS = join(REPO, "test/fixtures/handlers");

export interface ServiceProcessOptions {
  /** ROLE, AMQP_URL, REDIS_URL, SHUTDOWN_TIMEOUT_MS… (HANDLERS_DIR defaults to the fixtures). */
  env: Record<string, string>;
  /** Echo the process' log lines to stderr as they come (debugging). */
  echo?: boolean;
  /** PORT; a free one by default (a restarted service keeps its predecessor's). */
  port?: number;
}

/**
 * The real entry point (`bun src/main.ts`, not `bun run`, so that signals reach the service
 * itself) as a child process: tests kill it, SIGTERM it and read every line it logged.
 */
export class ServiceProcess {
  readonly port: number;
  /** Every stdout and stderr line, in order. */
  readonly lines: string[] = [];
  private child: Subprocess<"ignore", "pipe", "pipe">;
  private readonly drained: Promise<void>;

  constructor(options: ServiceProcessOptions) {
    this.port = options.port ?? freePort();
    this.child = Bun.spawn(["bun", MAIN], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? "/tmp",
        LOG_LEVEL: "info",
        HANDLERS_DIR: FIXTURE_HANDLERS,
        PORT: String(this.port),
        ...options.env,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    this.drained = Promise.all([
      this.collect(this.child.stdout, options.echo),
      this.collect(this.child.stderr, options.echo),
    ]).then(() => {});
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves with the exit code once the process ended and its output was read. */
  get exited(): Promise<number> {
    return this.child.exited.then(async (code) => {
      await this.drained;
      return code;
    });
  }

  /** The signal that ended it, once it ended by one. */
  get signalCode() {
    return this.child.signalCode;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: "SIGTERM" | "SIGINT" | "SIGKILL"): void {
    this.child.kill(signal);
  }

  /** Waits until /readyz answers 200 (or `ready: false` until it answers 503). */
  async waitReady(timeoutMs = 20_000, ready = true): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`service exited before it was ready:\n${this.lines.slice(-20).join("\n")}`);
      const status = await fetch(`${this.baseUrl}/readyz`).then(
        (response) => response.status,
        () => 0,
      );
      if ((ready && status === 200) || (!ready && status === 503)) return;
      await Bun.sleep(50);
    }
    throw new Error(
      `service did not become ${ready ? "ready" : "unready"} in ${timeoutMs} ms:\n${this.lines.slice(-20).join("\n")}`,
    );
  }

  /** Stops it however it is (tests' cleanup). */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  private async collect(stream: ReadableStream<Uint8Array>, echo?: boolean): Promise<void> {
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) {
        this.lines.push(line);
        if (echo) process.stderr.write(`[${this.port}] ${line}\n`);
      }
    }
    if (pending) this.lines.push(pending);
  }
}

/**
 * rascal.json with a namespace (a private prefix for every queue and exchange on a shared
 * broker) and optional edits, written to a temp file for RASCAL_CONFIG.
 */
export async function writeTopologyFile(
  edit: (config: Record<string, any>) => void = () => {},
): Promise<{ path: string; cleanup: () => void }> {
  const config = JSON.parse(await Bun.file(join(REPO, "rascal.json")).text());
  edit(config);
  const dir = mkdtempSync(join(tmpdir(), "faults-topology-"));
  const path = join(dir, "rascal.json");
  writeFileSync(path, JSON.stringify(config, null, 2));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
