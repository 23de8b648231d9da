import type { BenchEnv } from "./bench-env";
import { measureCompletionLatency, type CompletionLatency } from "./completion-latency";
import { memoryOf, type Target } from "./process";
import { serviceCounts } from "./targets";

/** RSS is read once the service is warm (JIT, channel pools, buffers), not at start-up. */
const WARM_UP_SEC = 30;
const SAMPLE_EVERY_MS = 5000;

export interface SoakResult {
  seconds: number;
  rate: number;
  rssAfterWarmUpMb: number;
  rssEndMb: number;
  growthPct: number;
  peakRssMb: number;
  samples: { atSec: number; rssMb: number }[];
  latency: CompletionLatency;
}

/** Offers `rate` orders/s for `seconds` and follows the service's RSS. */
export async function runSoak(service: Target, env: BenchEnv, rate: number, seconds: number, say: (text: string) => void): Promise<SoakResult> {
  say(`soak: ${rate} orders/s for ${seconds} s`);
  const samples: { atSec: number; rssMb: number }[] = [];
  const started = performance.now();
  const sampler = setInterval(() => {
    samples.push({ atSec: Math.round((performance.now() - started) / 1000), rssMb: memoryOf(service.pid).rssMb });
  }, SAMPLE_EVERY_MS);
  let latency: CompletionLatency;
  try {
    latency = await measureCompletionLatency({ baseUrl: service.baseUrl, redisUrl: env.redisUrl, rate, seconds, dir: env.dir, counts: serviceCounts(service) });
  } finally {
    clearInterval(sampler);
  }
  const warm = samples.find((sample) => sample.atSec >= WARM_UP_SEC) ?? samples[0]!;
  const running = samples.filter((sample) => sample.atSec <= seconds);
  const end = running[running.length - 1] ?? warm;
  const result: SoakResult = {
    seconds,
    rate,
    rssAfterWarmUpMb: warm.rssMb,
    rssEndMb: end.rssMb,
    growthPct: ((end.rssMb - warm.rssMb) / warm.rssMb) * 100,
    peakRssMb: memoryOf(service.pid).peakMb,
    samples,
    latency,
  };
  say(`soak: RSS ${warm.rssMb.toFixed(1)} MiB at ${warm.atSec} s → ${end.rssMb.toFixed(1)} MiB at ${end.atSec} s (${result.growthPct.toFixed(1)}%), peak ${result.peakRssMb.toFixed(1)} MiB, submit→completed p99 ${latency.p99Ms.toFixed(1)} ms`);
  return result;
}
