import { parseArgs } from "node:util";

export interface BenchArgs {
  /** Seconds of a soak at `rate` (RSS growth); replaces the regular run. */
  soakSec?: number;
  rounds: number;
  seconds: number;
  rate: number;
  latencySeconds: number;
}

export function readArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      soak: { type: "string" },
      rounds: { type: "string", default: "5" },
      seconds: { type: "string", default: "5" },
      rate: { type: "string", default: "1000" },
      "latency-seconds": { type: "string", default: "15" },
    },
  });
  const number = (name: string, text: string | undefined) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return {
    soakSec: values.soak === undefined ? undefined : number("soak", values.soak),
    rounds: number("rounds", values.rounds),
    seconds: number("seconds", values.seconds),
    rate: number("rate", values.rate),
    latencySeconds: number("latency-seconds", values["latency-seconds"]),
  };
}
