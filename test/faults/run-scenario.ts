import type Redis from "ioredis";
import { TERMINAL_STATUSES } from "../../src/domain/order";
import type { Deployment, Role } from "./deployment";
import { Load, type Outcome } from "./load";
import type { Scenario } from "./scenario";
import { drainQueues, orderRecords, settle } from "./verify";

export interface Row {
  scenario: string;
  sent: number;
  accepted: number;
  unavailable: number;
  /** Answers other than 202/503/409: never allowed (the fixture orders are all valid). */
  other: number;
  /** 409s: a retried key still held by its first request (only where clients retry their keys). */
  inFlight: number;
  /** 202s that replayed an earlier request of the same key: orders a retry took over after a crash. */
  replayed: number;
  refused: number;
  dropped: number;
  hung: number;
  missingRetryAfter: number;
  slowest202Ms: number;
  slowest503Ms: number;
  /** 202s per second while the load ran. */
  acceptedPerSecond: number;
  /** The longest time without any 202 while the load ran: what clients saw of the fault. */
  longestWithout202Ms: number;
  completed: number;
  lost: number;
  deadLettered: number;
  doubleCompletions: number;
  /** Orders whose handler was started more than once (a crash or shutdown cut a run short). */
  restarted: number;
  /** Handler effect done twice because a crash came between the effect and its record (allowed). */
  effectTwiceAfterCrash: number;
  orphans: number;
  /** Redelivered messages the worker acked as already completed (acks lost to the fault). */
  duplicatesSkipped: number;
  /** Messages of 503'd orders that reached the queue anyway (late confirm) and were dropped. */
  lateDropped: number;
  /** Handler runs that failed because of the fault (e.g. their event publish) and were retried. */
  retried: number;
  busyQueues: string[];
  readyz503: Record<Role, boolean>;
  notes: string[];
  error?: string;
  seconds: number;
  passed: boolean;
}

const SETTLE_MS = 90_000;
/**
 * How long clients keep sending an unanswered order again after the load stops: beyond the
 * 30 s for which a request that died holds its Idempotency-Key.
 */
const RETRY_SAME_KEY_MS = 60_000;

/**
 * One scenario: load on, fault in and out, load off, then wait for every accepted order to
 * finish and the queues to drain, and count what the contract forbids.
 */
export async function runScenario<D extends Deployment>(
  deployment: D,
  scenario: Scenario<D>,
  redis: Redis,
  known: Set<string>,
): Promise<Row> {
  const started = performance.now();
  const notes: string[] = [];
  const clientsRetry = scenario.apiCrashes === true || deployment.clientsAlwaysRetry;
  let nextApi = 0;
  const load = new Load({
    baseUrl: () => {
      const urls = deployment.apiUrls();
      return urls[nextApi++ % urls.length]!;
    },
    clients: 6,
    pauseMs: 10,
    hangMs: 15_000,
    ...(clientsRetry ? { retrySameKeyMs: RETRY_SAME_KEY_MS } : {}),
    ...(scenario.slotCustomers ? { slotCustomers: scenario.slotCustomers } : {}),
  });
  const readyz = watchReadiness(deployment);
  const logMark = new Map(deployment.history.map(({ service }) => [service, service.lines.length]));
  let error: string | undefined;

  load.start();
  const loadStarted = performance.now();
  await Bun.sleep(1000);
  try {
    await scenario.inject(deployment, notes);
    await deployment.waitHealthy();
  } catch (failure) {
    error = (failure as Error).message;
  }
  await Bun.sleep(2000);
  const loadStopped = performance.now();
  await load.stop();
  const readyz503 = await readyz.stop();

  const ids = load.outcomes.flatMap((outcome) => (outcome.kind === "accepted" ? [outcome.id] : []));
  for (const id of ids) known.add(id);
  const facts = await settle(redis, ids, SETTLE_MS);
  const busyQueues = await drainQueues(deployment, 30_000);
  const orphans = [...(await orderRecords(redis))].filter((id) => !known.has(id));
  const answeredAt = load.outcomes.flatMap((outcome) =>
    outcome.kind === "accepted" && outcome.at <= loadStopped ? [outcome.at] : [],
  );

  const newLines = deployment.history.flatMap(({ service }) => service.lines.slice(logMark.get(service) ?? 0));
  const outcomeLines = (outcome: string) =>
    newLines.filter(
      (line) => line.includes(`"outcome":"${outcome}"`) && line.includes('"subscription":"process_order"'),
    ).length;
  const count = (kind: Outcome["kind"]) => load.outcomes.filter((outcome) => outcome.kind === kind).length;
  const unavailable = load.outcomes.filter(
    (outcome): outcome is Extract<Outcome, { kind: "unavailable" }> => outcome.kind === "unavailable",
  );
  const rerun = (order: (typeof facts)[number]) => order.effects > 1 && scenario.crashes === true && order.attempts > 1;
  const row: Row = {
    scenario: scenario.name,
    sent: load.outcomes.length,
    accepted: ids.length,
    unavailable: unavailable.length,
    other: count("other"),
    inFlight: count("in_flight"),
    replayed: load.outcomes.filter((outcome) => outcome.kind === "accepted" && outcome.replayed).length,
    refused: count("refused"),
    dropped: count("dropped"),
    hung: count("hung"),
    missingRetryAfter: unavailable.filter((outcome) => !outcome.retryAfter).length,
    slowest202Ms: Math.round(
      Math.max(0, ...load.outcomes.map((outcome) => (outcome.kind === "accepted" ? outcome.ms : 0))),
    ),
    slowest503Ms: Math.round(Math.max(0, ...unavailable.map((outcome) => outcome.ms))),
    acceptedPerSecond: Math.round(answeredAt.length / ((loadStopped - loadStarted) / 1000)),
    longestWithout202Ms: Math.round(longestGap(answeredAt, loadStarted, loadStopped)),
    completed: facts.filter((order) => order.status === "completed").length,
    lost: facts.filter(
      (order) => order.status === undefined || !(TERMINAL_STATUSES as readonly string[]).includes(order.status),
    ).length,
    deadLettered: facts.filter((order) => order.status === "dead_lettered").length,
    doubleCompletions: facts.filter((order) => order.terminalEntries > 1 || (order.effects > 1 && !rerun(order)))
      .length,
    restarted: facts.filter((order) => order.runs > 1).length,
    effectTwiceAfterCrash: facts.filter(rerun).length,
    orphans: orphans.length,
    duplicatesSkipped: outcomeLines("duplicate"),
    lateDropped: outcomeLines("dropped"),
    retried: outcomeLines("retried"),
    busyQueues: busyQueues.map((queue) => `${queue.name} ${queue.ready}+${queue.unacked}`),
    readyz503,
    notes,
    error,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    passed: false,
  };
  row.passed =
    !error &&
    row.accepted > 0 &&
    row.completed === row.accepted &&
    row.lost === 0 &&
    row.doubleCompletions === 0 &&
    row.other === 0 &&
    row.hung === 0 &&
    row.missingRetryAfter === 0 &&
    row.orphans === 0 &&
    row.busyQueues.length === 0 &&
    (row.dropped === 0 || scenario.apiCrashes === true) &&
    (row.inFlight === 0 || clientsRetry) &&
    (row.replayed > 0 || scenario.expectsTakeOver !== true) &&
    (row.refused === 0 || scenario.apiGoesAway === true || scenario.apiCrashes === true);
  return row;
}

/** The longest stretch between `from`, the (sorted) times in `at`, and `to`. */
function longestGap(at: readonly number[], from: number, to: number): number {
  const times = [from, ...[...at].sort((a, b) => a - b), to];
  return Math.max(...times.slice(1).map((time, index) => time - times[index]!));
}

/** Polls /readyz of every running process every 100 ms and remembers which roles said 503. */
function watchReadiness(deployment: Deployment): { stop(): Promise<Record<Role, boolean>> } {
  const seen: Record<Role, boolean> = { api: false, worker: false };
  let running = true;
  const poll = async () => {
    while (running) {
      for (const { role, service } of deployment.running()) {
        const status = await fetch(`${service.baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 503) seen[role] = true;
      }
      await Bun.sleep(100);
    }
  };
  const done = poll();
  return {
    async stop() {
      running = false;
      await done;
      return seen;
    },
  };
}
