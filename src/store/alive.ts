import { keysFor } from "./keys";
import type { RedisClient } from "./redis";

/**
 * Whether the worker process of a claim token (`<process>:<n>`) still signals that it runs:
 * its alive key, refreshed every second, expires 5 s after the process died. Asked apart from
 * the scripts that hold claims and slots, because on Redis Cluster the alive key lives in
 * another hash slot than the keys those scripts touch.
 */
export async function ownerAlive(redis: RedisClient, owner: string): Promise<boolean> {
  const process = /^(.*):\d+$/.exec(owner)?.[1];
  return process !== undefined && (await redis.exists(keysFor(redis).alive(process))) === 1;
}
