import type Redis from "ioredis";

type ScriptFn = (numKeys: number, ...keysAndArgs: (string | number)[]) => Promise<unknown>;

/**
 * Runs a Lua script registered with `defineCommand` (EVALSHA with automatic fallback to EVAL,
 * key prefixing included). The number of keys may vary per call.
 */
export function runScript(
  redis: Redis,
  name: string,
  lua: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  const commands = redis as unknown as Record<string, ScriptFn | undefined>;
  let fn = commands[name];
  if (!fn) {
    redis.defineCommand(name, { lua });
    fn = commands[name]!;
  }
  return fn.call(redis, keys.length, ...keys, ...args);
}
