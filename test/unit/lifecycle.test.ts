import { expect, test } from "bun:test";
import { type Component, startInOrder } from "../../src/lifecycle";

/** Components that write what happens to them into `events`. */
function recording(events: string[], names: string[], failing?: { name: string; step: "start" | "stop" }) {
  return names.map(
    (name): Component => ({
      name,
      start: () => {
        if (failing?.name === name && failing.step === "start") throw new Error(`${name} cannot start`);
        events.push(`start ${name}`);
      },
      drain: () => {
        events.push(`drain ${name}`);
      },
      stop: () => {
        if (failing?.name === name && failing.step === "stop") throw new Error(`${name} cannot stop`);
        events.push(`stop ${name}`);
      },
    }),
  );
}

test("components start in order; stopping drains them all, then stops them in reverse, once", async () => {
  const events: string[] = [];
  const started = await startInOrder(recording(events, ["redis", "broker", "http"]), () => {});
  await Promise.all([started.stop(), started.stop()]);
  expect(events).toEqual([
    "start redis",
    "start broker",
    "start http",
    "drain http",
    "drain broker",
    "drain redis",
    "stop http",
    "stop broker",
    "stop redis",
  ]);
});

test("a start that fails stops only what had started, in reverse, and rethrows", async () => {
  const events: string[] = [];
  const components = recording(events, ["redis", "broker", "http"], { name: "broker", step: "start" });
  await expect(startInOrder(components, () => {})).rejects.toThrow("broker cannot start");
  expect(events).toEqual(["start redis", "drain redis", "stop redis"]);
});

test("a stop that fails is reported and the others still stop", async () => {
  const events: string[] = [];
  const failures: string[] = [];
  const components = recording(events, ["redis", "broker"], { name: "broker", step: "stop" });
  const started = await startInOrder(components, (name, error) =>
    failures.push(`${name}: ${(error as Error).message}`),
  );
  await started.stop();
  expect(failures).toEqual(["broker: broker cannot stop"]);
  expect(events.at(-1)).toBe("stop redis");
});
