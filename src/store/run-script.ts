import { createHash } from "node:crypto";
import type { RedisClient } from "./redis";

const shas = new Map<string, string>();

/**
 * Runs a Lua script: EVALSHA, falling back to EVAL when Redis does not know the script yet
 * (key prefixing included). The number of keys may vary per call. Plain EVALSHA rather than
 * `defineCommand`, because a command defined on a client after ioredis opened an auto-pipeline
 * is missing from that pipeline and fails.
 */
export async function runScript(
  redis: RedisClient,
  _name: string,
  lua: string,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  let sha = shas.get(lua);
  if (!sha) {
    sha = createHash("sha1").update(lua).digest("hex");
    shas.set(lua, sha);
  }
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return redis.eval(lua, keys.length, ...keys, ...args);
  }
}
