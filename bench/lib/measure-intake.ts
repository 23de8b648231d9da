import { CpuMeter, type CpuPerOrder } from "./cpu-meter";
import { runWrk, type WrkResult } from "./wrk";

export const CONNECTIONS = 64;

/** Accepted and completed orders as a target counts them itself. */
export interface CountsReader {
  accepted(): Promise<number>;
  /** Cheap enough to poll every few milliseconds. */
  completed(): Promise<number>;
  /** The target's own record of completed orders, read once at the end to check the count. */
  recorded?(): Promise<number>;
}

export interface IntakeRound {
  wrk: WrkResult;
  /** Orders accepted during the run ÷ seconds from its start until all of them completed. */
  endToEndPerSec?: number;
  /** Orders the target itself counted as accepted during the run. */
  accepted?: number;
  completed?: number;
  drainSec?: number;
  /**
   * CPU per accepted order: from the start of the run until all of them completed, or over the
   * run without a counts reader.
   */
  cpu?: CpuPerOrder;
}

/**
 * One wrk run at 64 connections; with a counts reader, also waits until every order accepted
 * during the run completed and derives the end-to-end rate, measured the same way for every target.
 */
export async function measureIntake(
  url: string,
  durationSec: number,
  counts?: CountsReader,
  cpu?: CpuMeter,
): Promise<IntakeRound> {
  const cpuBefore = cpu?.snapshot();
  if (!counts) {
    const wrk = await runWrk({ url, connections: CONNECTIONS, durationSec, okStatus: 202 });
    const cpuAfter = cpu?.snapshot();
    return { wrk, cpu: cpuBefore && cpuAfter ? CpuMeter.perOrder(cpuBefore, cpuAfter, wrk.ok) : undefined };
  }
  const accepted0 = await counts.accepted();
  const completed0 = await counts.completed();
  const recorded0 = (await counts.recorded?.()) ?? completed0;
  const started = performance.now();
  const wrk = await runWrk({ url, connections: CONNECTIONS, durationSec, okStatus: 202 });
  const wrkEnded = performance.now();
  // Requests cut off when wrk stops may still be accepted: settle them before counting.
  await Bun.sleep(50);
  const accepted = (await counts.accepted()) - accepted0;
  const done = await waitForCompleted(counts, completed0 + accepted);
  const finished = performance.now();
  const cpuAfter = cpu?.snapshot();
  // The target records an order completed just after its handler returned: give it a moment.
  const completed = counts.recorded
    ? (await waitForRecorded(counts.recorded, recorded0 + accepted)) - recorded0
    : done - completed0;
  return {
    wrk,
    endToEndPerSec: completed >= accepted ? accepted / ((finished - started) / 1000) : 0,
    accepted,
    completed,
    drainSec: (finished - wrkEnded) / 1000,
    cpu: cpuBefore && cpuAfter ? CpuMeter.perOrder(cpuBefore, cpuAfter, accepted) : undefined,
  };
}

/** Polls until `target` orders completed; returns the count seen (less on timeout). */
async function waitForCompleted(counts: CountsReader, target: number, timeoutMs = 180_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const completed = await counts.completed();
    if (completed >= target || performance.now() > deadline) return completed;
    await Bun.sleep(10);
  }
}

async function waitForRecorded(recorded: () => Promise<number>, target: number, timeoutMs = 10_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const count = await recorded();
    if (count >= target || performance.now() > deadline) return count;
    await Bun.sleep(100);
  }
}

/** Waits until a target has completed everything it accepted (before a measured run). */
export async function drain(counts: CountsReader, timeoutMs = 120_000): Promise<void> {
  const accepted = await counts.accepted();
  const completed = await waitForCompleted(counts, accepted, timeoutMs);
  if (completed < accepted) throw new Error(`target did not drain: ${completed}/${accepted} completed`);
}
