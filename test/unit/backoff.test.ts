import { expect, test } from "bun:test";
import { retryDelay, retryWithBackoff } from "../../src/runtime/backoff";

test("the retry ladder's tier follows the attempt, the last delay repeating", () => {
  const delays = [1000, 5000, 30000];
  expect([1, 2, 3, 4, 9].map((attempt) => retryDelay(delays, attempt).delayMs)).toEqual([
    1000, 5000, 30000, 30000, 30000,
  ]);
});

test("retryWithBackoff retries until the attempt succeeds, telling of each failure", async () => {
  const failures: number[] = [];
  let calls = 0;
  const value = await retryWithBackoff(
    async () => {
      calls += 1;
      if (calls < 3) throw new Error("down");
      return "up";
    },
    { baseMs: 1, capMs: 2, onFailure: (_error, step) => failures.push(step) },
  );
  expect(value).toBe("up");
  expect(failures).toEqual([0, 1]);
});

test("retryWithBackoff resolves undefined once aborted or past its deadline", async () => {
  const controller = new AbortController();
  const aborted = retryWithBackoff(
    async () => {
      controller.abort();
      throw new Error("down");
    },
    { signal: controller.signal, baseMs: 1 },
  );
  expect(await aborted).toBeUndefined();
  const gaveUp = retryWithBackoff(() => Promise.reject(new Error("down")), { giveUpAfterMs: 20, baseMs: 1, capMs: 5 });
  expect(await gaveUp).toBeUndefined();
});
