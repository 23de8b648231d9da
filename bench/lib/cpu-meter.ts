import { readFileSync } from "node:fs";
import { median } from "./stats";

/**
 * CPU seconds of each process a target's orders cost: the target itself, and the broker and
 * Redis when they run on this machine.
 */
export interface CpuSnapshot {
  target: number;
  broker?: number;
  redis?: number;
}

/** Microseconds of CPU per order in each process over one measured run. */
export interface CpuPerOrder {
  targetUs: number;
  brokerUs?: number;
  redisUs?: number;
  totalUs: number;
}

/** Linux clock ticks per second, as /proc/<pid>/stat counts utime and stime. */
const TICKS_PER_SEC = 100;

/** user + system CPU seconds of a process, or undefined when it is gone or not readable. */
export function cpuSeconds(pid: number | undefined): number | undefined {
  const cpu = cpuUserSystem(pid);
  return cpu && cpu.user + cpu.system;
}

/** A process's user and system CPU seconds apart, or undefined when it is gone or not readable. */
export function cpuUserSystem(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return { user: Number(fields[11]) / TICKS_PER_SEC, system: Number(fields[12]) / TICKS_PER_SEC };
  } catch {
    return undefined;
  }
}

/** Oldest process whose command name is `name` on this machine (the broker or Redis when they run locally). */
export function pidOf(name: string): number | undefined {
  const result = Bun.spawnSync(["pgrep", "-o", "-x", name]);
  const pid = Number(result.stdout.toString().trim());
  return result.exitCode === 0 && pid > 0 ? pid : undefined;
}

/**
 * Reads the CPU time a target and the local broker (beam.smp) and Redis (redis-server) used,
 * so that a run can be split into CPU per order per process: where the time goes, and how far
 * the machine's cores can stretch. Processes not running here are left out.
 */
export class CpuMeter {
  private readonly brokerPid = pidOf("beam.smp");
  private readonly redisPid = pidOf("redis-server");

  constructor(private readonly targetPid: number) {}

  snapshot(): CpuSnapshot {
    return {
      target: cpuSeconds(this.targetPid) ?? NaN,
      broker: cpuSeconds(this.brokerPid),
      redis: cpuSeconds(this.redisPid),
    };
  }

  static perOrder(before: CpuSnapshot, after: CpuSnapshot, orders: number): CpuPerOrder {
    const us = (from: number | undefined, to: number | undefined) =>
      from === undefined || to === undefined || orders <= 0 ? undefined : ((to - from) / orders) * 1e6;
    const targetUs = us(before.target, after.target) ?? NaN;
    const brokerUs = us(before.broker, after.broker);
    const redisUs = us(before.redis, after.redis);
    return { targetUs, brokerUs, redisUs, totalUs: targetUs + (brokerUs ?? 0) + (redisUs ?? 0) };
  }
}

/** Median CPU per order of each process over several runs (processes not on this machine stay undefined). */
export function medianCpu(runs: readonly (CpuPerOrder | undefined)[]): CpuPerOrder {
  const of = (pick: (cpu: CpuPerOrder) => number | undefined) => {
    const values = runs
      .map((cpu) => (cpu ? pick(cpu) : undefined))
      .filter((value): value is number => value !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  return {
    targetUs: of((cpu) => cpu.targetUs) ?? NaN,
    brokerUs: of((cpu) => cpu.brokerUs),
    redisUs: of((cpu) => cpu.redisUs),
    totalUs: of((cpu) => cpu.totalUs) ?? NaN,
  };
}

/** "service 420 + RabbitMQ 190 + Redis 135 µs" */
export function cpuSplit(cpu: CpuPerOrder): string {
  const part = (name: string, us: number | undefined) =>
    us === undefined ? `${name} not local` : `${name} ${Math.round(us)}`;
  const parts = [part("service", cpu.targetUs), part("RabbitMQ", cpu.brokerUs), part("Redis", cpu.redisUs)];
  return `${parts.join(" + ")} µs`;
}
