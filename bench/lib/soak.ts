import type { BenchEnv } from "./bench-env";
import { type CompletionLatency, measureCompletionLatency } from "./completion-latency";
import { memoryOf, type Target } from "./process";
import { median } from "./stats";
import { serviceCounts } from "./targets";

/** RSS is read once the service is warm (JIT, channel pools, buffers), not at start-up. */
const WARM_UP_SEC = 30;
const SAMPLE_EVERY_MS = 5000;
/**
 * RSS swings by ±15% with the garbage collector's cycle, so single samples are compared as
 * medians over a window: the first window after warm-up against the last one.
 */
const WINDOW_SEC = 60;

export interface SoakResult {
  seconds: number;
  rate: number;
  /** Median RSS over the first window after warm-up, and over the last window. */
  rssAfterWarmUpMb: number;
  rssEndMb: number;
  growthPct: number;
  peakRssMb: number;
  samples: { atSec: number; rssMb: number }[];
  latency: CompletionLatency;
}

/** Offers `rate` orders/s for `seconds` and follows the service's RSS. */
export async function runSoak(
  service: Target,
  env: BenchEnv,
  rate: number,
  seconds: number,
  say: (text: string) => void,
): Promise<SoakResult> {
  say(`soak: ${rate} orders/s for ${seconds} s`);
  const samples: { atSec: number; rssMb: number }[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    samples.push({ atSec: Math.round((performance.now() - started) / 1000), rssMb: memoryOf(service.pid).rssMb });
  }, SAMPLE_EVERY_MS);
  let latency: CompletionLatency;
  try {
    latency = await measureCompletionLatency({
      baseUrl: service.baseUrl,
      redisUrl: env.redisUrl,
      rate,
      seconds,
      dir: env.dir,
      counts: serviceCounts(service),
    });
  } finally {
    clearInterval(sampler);
  }
  const running = samples.filter((sample) => sample.atSec <= seconds);
  const window = Math.min(WINDOW_SEC, Math.max(SAMPLE_EVERY_MS / 1000, (seconds - WARM_UP_SEC) / 3));
  const rssIn = (from: number, to: number) =>
    median(running.filter((sample) => sample.atSec >= from && sample.atSec <= to).map((sample) => sample.rssMb));
  const warmMb = rssIn(WARM_UP_SEC, WARM_UP_SEC + window);
  const endMb = rssIn(seconds - window, seconds);
  const result: SoakResult = {
    seconds,
    rate,
    rssAfterWarmUpMb: warmMb,
    rssEndMb: endMb,
    growthPct: ((endMb - warmMb) / warmMb) * 100,
    peakRssMb: memoryOf(service.pid).peakMb,
    samples,
    latency,
  };
  if (latency.failed > 0) say(`soak: ${latency.failed} requests got no answer: ${latency.errors.join("; ")}`);
  say(
    `soak: median RSS ${warmMb.toFixed(1)} MiB in ${WARM_UP_SEC}–${WARM_UP_SEC + window} s → ` +
      `${endMb.toFixed(1)} MiB in the last ${window} s ` +
      `(${result.growthPct >= 0 ? "+" : ""}${result.growthPct.toFixed(1)}%), ` +
      `peak ${result.peakRssMb.toFixed(1)} MiB, ` +
      `submit→completed p99 ${latency.p99Ms.toFixed(1)} ms`,
  );
  return result;
}
