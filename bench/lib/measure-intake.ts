import { runWrk, type WrkResult } from "./wrk";

export const CONNECTIONS = 64;

/** Accepted and completed orders as a target counts them itself. */
export type CountsReader = () => Promise<{ accepted: number; completed: number }>;

export interface IntakeRound {
  wrk: WrkResult;
  /** Orders accepted during the run ÷ seconds from its start until all of them completed. */
  endToEndPerSec?: number;
  /** Orders the target itself counted as accepted during the run. */
  accepted?: number;
  completed?: number;
  drainSec?: number;
}

/**
 * One wrk run at 64 connections; with a counts reader, also waits until every order accepted
 * during the run completed and derives the end-to-end rate, measured the same way for every target.
 */
export async function measureIntake(url: string, durationSec: number, counts?: CountsReader): Promise<IntakeRound> {
  const before = counts ? await counts() : undefined;
  const started = performance.now();
  const wrk = await runWrk({ url, connections: CONNECTIONS, durationSec, okStatus: 202 });
  if (!counts || !before) return { wrk };
  const wrkEnded = performance.now();
  // Requests cut off when wrk stops may still be accepted: settle them before counting.
  await Bun.sleep(50);
  const deadline = performance.now() + 180_000;
  for (;;) {
    const now = await counts();
    const accepted = now.accepted - before.accepted;
    const completed = now.completed - before.completed;
    if (completed >= accepted || performance.now() > deadline) {
      const finished = performance.now();
      return {
        wrk,
        endToEndPerSec: completed >= accepted ? accepted / ((finished - started) / 1000) : 0,
        accepted,
        completed,
        drainSec: (finished - wrkEnded) / 1000,
      };
    }
    await Bun.sleep(25);
  }
}

/** Waits until a target has completed everything it accepted (before a measured run). */
export async function drain(counts: CountsReader, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { accepted, completed } = await counts();
    if (completed >= accepted) return;
    if (Date.now() > deadline) throw new Error(`target did not drain: ${completed}/${accepted} completed`);
    await Bun.sleep(50);
  }
}
