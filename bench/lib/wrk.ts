/** Runs wrk against one URL and returns its figures, counting only the expected status. */

const SCRIPT = new URL("./wrk-statuses.lua", import.meta.url).pathname;

export interface WrkOptions {
  url: string;
  connections: number;
  durationSec: number;
  threads?: number;
  method?: "POST" | "GET";
  /** The status that counts as success (202 for order intakes, 200 for the bare route). */
  okStatus: number;
  /** The request body (default: the small sample order). */
  body?: string;
}

export interface WrkResult {
  durationSec: number;
  /** Responses with the expected status, per second. */
  okPerSec: number;
  ok: number;
  other: number;
  statuses: Record<string, number>;
  errors: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface WrkJson {
  durationUs: number;
  requests: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  timeouts: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
  statuses: Record<string, number>;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const proc = Bun.spawn(
    [
      "wrk",
      `-t${options.threads ?? 2}`,
      `-c${options.connections}`,
      `-d${options.durationSec}s`,
      "--timeout",
      "10s",
      "-s",
      SCRIPT,
      options.url,
    ],
    {
      stdout: "pipe",
      stderr: "pipe",
      env: {
        ...process.env,
        WRK_METHOD: options.method ?? "POST",
        ...(options.body === undefined ? {} : { WRK_BODY: options.body }),
      },
    },
  );
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const line = stdout.split("\n").find((text) => text.startsWith("WRK_JSON "));
  if (code !== 0 || !line) throw new Error(`wrk failed (exit ${code}): ${stderr || stdout}`);
  const json = JSON.parse(line.slice("WRK_JSON ".length)) as WrkJson;
  const durationSec = json.durationUs / 1e6;
  const ok = json.statuses[String(options.okStatus)] ?? 0;
  return {
    durationSec,
    okPerSec: ok / durationSec,
    ok,
    other: json.requests - ok,
    statuses: json.statuses,
    errors: json.connectErrors + json.readErrors + json.writeErrors + json.timeouts,
    p50Ms: json.p50Us / 1000,
    p90Ms: json.p90Us / 1000,
    p99Ms: json.p99Us / 1000,
    maxMs: json.maxUs / 1000,
  };
}
