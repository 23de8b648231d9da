import type { Config } from "../config";
import { configuredTopology } from "./configured-topology";
import type { Output } from "./output";

/** `topology print`: the expanded Rascal config (retry ladders included), without credentials. */
export function printTopology(config: Config, output: Output): number {
  const topology = configuredTopology(config);
  output.err(`topology from ${topology.source}`);
  output.out(JSON.stringify(redactUrls(topology.rascal), null, 2));
  return 0;
}

/** The printed topology must not leak broker credentials. */
function redactUrls(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, field) =>
    key === "url" && typeof field === "string" ? field.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@") : field,
  );
}
