/**
 * `bun bench/compare.ts <git-ref>`: this checkout of the service against another revision, in
 * interleaved repetitions, for changes too small for the full bench to tell apart from the
 * machine's noise. Each repetition starts both versions afresh (alternating which goes first),
 * warms each up, and measures wrk at 64 connections: requests/s and the CPU per order of the
 * service, RabbitMQ and Redis — with `--role all` (default) from the start of the run until
 * every accepted order completed, with `--role api` over the run itself. Prints every
 * repetition, the medians, the ratios of this checkout to the revision, and one JSON line.
 * Options: --role all|api, --reps 5 (odd, so the median is a measured run), --seconds 8. Both
 * versions use this checkout's node_modules, rascal.json and no-op handler.
 */
import { rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createBenchEnv, ROOT } from "./lib/bench-env";
import { CpuMeter, type CpuPerOrder, cpuSplit, medianCpu } from "./lib/cpu-meter";
import { drain, measureIntake } from "./lib/measure-intake";
import { median } from "./lib/stats";
import { serviceCounts, startOrderService } from "./lib/targets";
import { runWrk } from "./lib/wrk";

const WARM_UP_SEC = 5;
const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: {
    role: { type: "string", default: "all" },
    reps: { type: "string", default: "5" },
    seconds: { type: "string", default: "8" },
  },
});
const ref = positionals[0];
const role = values.role === "api" ? "api" : "all";
const reps = Number(values.reps);
const seconds = Number(values.seconds);
if (!ref || (values.role !== "all" && values.role !== "api") || !(reps > 0) || !(seconds > 0)) {
  console.error("usage: bun bench/compare.ts <git-ref> [--role all|api] [--reps 5] [--seconds 8]");
  process.exit(2);
}

const say = (text: string) => console.error(`[compare] ${text}`);
const checkout = join(ROOT, ".bench", `compare-${process.pid}`);
git(["worktree", "add", "--detach", checkout, ref]);
symlinkSync(join(ROOT, "node_modules"), join(checkout, "node_modules"));

interface Figures {
  reqPerSec: number;
  cpu: CpuPerOrder;
}
const versions = [
  { name: ref, codeDir: checkout },
  { name: "this checkout", codeDir: ROOT },
];
const measured = new Map<string, Figures[]>(versions.map((version) => [version.name, []]));
try {
  for (let rep = 1; rep <= reps; rep++) {
    // Alternate the order, so that neither version always runs on the warmer machine.
    for (const version of rep % 2 === 1 ? versions : [...versions].reverse()) {
      const figures = await measureOnce(version.codeDir);
      measured.get(version.name)!.push(figures);
      say(`rep ${rep}/${reps} ${version.name}: ${describe(figures)}`);
    }
  }
} finally {
  git(["worktree", "remove", "--force", checkout]);
  rmSync(checkout, { recursive: true, force: true });
}

const medians = new Map(versions.map((version) => [version.name, medianFigures(measured.get(version.name)!)]));
const before = medians.get(ref)!;
const after = medians.get("this checkout")!;
const ratios = {
  reqPerSec: after.reqPerSec / before.reqPerSec,
  serviceCpu: after.cpu.targetUs / before.cpu.targetUs,
  totalCpu: after.cpu.totalUs / before.cpu.totalUs,
};
console.log(`\nROLE=${role}, ${reps} interleaved repetitions of ${seconds} s at 64 connections, medians:`);
for (const [name, figures] of medians) console.log(`  ${name.padEnd(16)} ${describe(figures)}`);
console.log(
  `  this checkout / ${ref}: req/s ${ratios.reqPerSec.toFixed(3)}×, ` +
    `service CPU per order ${ratios.serviceCpu.toFixed(3)}×, all processes ${ratios.totalCpu.toFixed(3)}×\n`,
);
console.log(
  JSON.stringify({
    bench: "order-pipeline-compare",
    ref,
    role,
    reps,
    seconds,
    medians: Object.fromEntries(medians),
    ratios,
    runs: Object.fromEntries(measured),
  }),
);

/** One fresh service of the given checkout: warm-up, then one measured run. */
async function measureOnce(codeDir: string): Promise<Figures> {
  const env = await createBenchEnv();
  const service = await startOrderService(env, { role, codeDir });
  try {
    const url = `${service.baseUrl}/orders`;
    await runWrk({ url, connections: 64, durationSec: WARM_UP_SEC, okStatus: 202 });
    const counts = role === "all" ? serviceCounts(service) : undefined;
    if (counts) await drain(counts);
    const { wrk, cpu } = await measureIntake(url, seconds, counts, new CpuMeter(service.pid));
    if (!cpu) throw new Error("no CPU figures: the service's process could not be read");
    if (wrk.other + wrk.errors > 0) throw new Error(`non-202 answers: ${JSON.stringify(wrk.statuses)}`);
    return { reqPerSec: wrk.okPerSec, cpu };
  } finally {
    await service.stop();
    await env.cleanup();
  }
}

function medianFigures(runs: Figures[]): Figures {
  return { reqPerSec: median(runs.map((run) => run.reqPerSec)), cpu: medianCpu(runs.map((run) => run.cpu)) };
}

function describe(figures: Figures): string {
  const cpu = `CPU per order ${Math.round(figures.cpu.totalUs)} µs (${cpuSplit(figures.cpu)})`;
  return `${Math.round(figures.reqPerSec)} req/s, ${cpu}`;
}

function git(args: string[]): void {
  const result = Bun.spawnSync(["git", ...args], { cwd: ROOT, stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${result.stderr.toString().trim()}`);
}
