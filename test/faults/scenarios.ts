import { slotKey } from "../../src/store/concurrency-slots";
import { DEFAULT_LEASE_MS } from "../../src/store/message-ledger";
import { until } from "../helpers/eventually";
import type { Cluster, Role } from "./cluster";

export interface Scenario {
  name: string;
  /** A worker dies without finishing: its started handlers may run again (the guarantees in the README). */
  crashes?: boolean;
  /** The API process itself goes away for a while: clients meet a closed port. */
  apiGoesAway?: boolean;
  /**
   * The API process dies mid-request: connections break without an answer, and the clients
   * send those orders again with the same Idempotency-Key until they get a 202 (409 meanwhile).
   */
  apiCrashes?: boolean;
  /** Customers whose orders share the suite's limit of one order per customer at a time (see Load). */
  slotCustomers?: number;
  /** The fault is certain to leave requests that recorded their order unanswered: retries must take some over. */
  expectsTakeOver?: boolean;
  /** Injects the fault while orders keep coming, and undoes it. */
  inject(cluster: Cluster, notes: string[]): Promise<void>;
}

const OUTAGE_MS = 3000;
/** Longer than the intake's 5 s confirm timeout: publishes caught by the alarm time out (503). */
const ALARM_MS = 7000;
/** How long a killed process stays down before it is started again. */
const DOWN_MS = 1000;

/** A process dies without warning (kill -9) and is started again a moment later. */
function killAndRestart(role: Role): Scenario["inject"] {
  return async (cluster) => {
    await cluster.kill(role);
    await Bun.sleep(DOWN_MS);
    await cluster.startProcess(role);
  };
}

const SLOT_CUSTOMERS = 4;

/**
 * Kills the worker while it holds the slots of customers whose next orders wait for them, and
 * notes how long those slots stay taken by the dead process: they must free within the lease.
 */
async function killHoldingSlots(cluster: Cluster, notes: string[]): Promise<void> {
  const redis = cluster.redis.client();
  try {
    const slotKeys = Array.from({ length: SLOT_CUSTOMERS }, (_, index) =>
      slotKey("process_order", `hold-500-slot-${index}`),
    );
    const holders = async () => (await Promise.all(slotKeys.map((key) => redis.zrange(key, "0", "-1")))).flat();
    await until("the worker holds slots of two customers", async () => (await holders()).length >= 2, 20_000);
    const dead = new Set(await holders());
    await cluster.kill("worker");
    const killedAt = performance.now();
    await Bun.sleep(DOWN_MS);
    await cluster.startProcess("worker");
    await until(
      "the dead worker's slots are free again",
      async () => !(await holders()).some((holder) => dead.has(holder)),
      DEFAULT_LEASE_MS,
    );
    notes.push(
      `${dead.size} slots held at the kill, free again ${((performance.now() - killedAt) / 1000).toFixed(1)} s later`,
    );
  } finally {
    redis.disconnect();
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: "no fault (baseline)",
    inject: () => Bun.sleep(OUTAGE_MS),
  },
  {
    name: "worker SIGKILL + restart",
    crashes: true,
    inject: killAndRestart("worker"),
  },
  {
    name: "worker SIGKILL holding concurrency slots",
    crashes: true,
    slotCustomers: SLOT_CUSTOMERS,
    inject: killHoldingSlots,
  },
  {
    name: "API SIGKILL + restart, clients retry with their key",
    apiCrashes: true,
    inject: killAndRestart("api"),
  },
  {
    // Every request in flight while the broker is frozen has recorded its order and waits for
    // a confirm that cannot come (an alarm would not do: the broker tells clients, and the API
    // then fails new orders at once). Their retries must take those orders over.
    name: "API SIGKILL while the broker is frozen (SIGSTOP)",
    apiCrashes: true,
    expectsTakeOver: true,
    async inject(cluster) {
      await cluster.broker.freeze();
      try {
        await Bun.sleep(1000);
        await cluster.kill("api");
      } finally {
        cluster.broker.thaw();
      }
      await cluster.startProcess("api");
    },
  },
  {
    name: "RabbitMQ stop_app/start_app",
    async inject(cluster) {
      await cluster.broker.stopApp();
      await Bun.sleep(OUTAGE_MS);
      await cluster.broker.startApp();
    },
  },
  {
    name: "Redis restart (AOF)",
    async inject(cluster) {
      await cluster.redis.stop("SIGTERM");
      await Bun.sleep(OUTAGE_MS);
      await cluster.redis.start();
    },
  },
  {
    name: "memory alarm (blocked)",
    async inject(cluster) {
      await cluster.broker.setMemoryAlarm(true);
      await Bun.sleep(ALARM_MS);
      await cluster.broker.setMemoryAlarm(false);
    },
  },
  {
    name: "close_all_connections x2",
    async inject(cluster) {
      await cluster.broker.closeAllConnections();
      await Bun.sleep(OUTAGE_MS / 2);
      await cluster.broker.closeAllConnections();
      await Bun.sleep(OUTAGE_MS / 2);
    },
  },
  {
    name: "SIGTERM api + worker mid-load",
    apiGoesAway: true,
    async inject(cluster, notes) {
      const { api, worker } = cluster;
      api.signal("SIGTERM");
      worker.signal("SIGTERM");
      const [apiCode, workerCode] = await Promise.all([api.exited, worker.exited]);
      notes.push(`exit codes api=${apiCode} worker=${workerCode}`);
      if (apiCode !== 0 || workerCode !== 0)
        throw new Error(`SIGTERM exit codes: api ${apiCode}, worker ${workerCode}`);
      await Promise.all([cluster.startProcess("api"), cluster.startProcess("worker")]);
    },
  },
];
