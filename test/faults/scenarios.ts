import { slotKey } from "../../src/store/concurrency-slots";
import { DEFAULT_LEASE_MS } from "../../src/store/message-ledger";
import { until } from "../helpers/eventually";
import type { Role } from "./deployment";
import type { Scenario } from "./scenario";
import type { SingleNode } from "./single-node";

export const OUTAGE_MS = 3000;
/** Longer than the intake's 5 s confirm timeout: publishes caught by the alarm time out (503). */
const ALARM_MS = 7000;
/** How long a killed process stays down before it is started again. */
export const DOWN_MS = 1000;

/** A process dies without warning (kill -9) and is started again a moment later. */
function killAndRestart(role: Role): Scenario<SingleNode>["inject"] {
  return async (deployment) => {
    await deployment.kill(role);
    await Bun.sleep(DOWN_MS);
    await deployment.startProcess(role);
  };
}

const SLOT_CUSTOMERS = 4;

/**
 * Kills the worker while it holds the slots of customers whose next orders wait for them, and
 * notes how long those slots stay taken by the dead process: they must free within the lease.
 */
async function killHoldingSlots(deployment: SingleNode, notes: string[]): Promise<void> {
  const redis = deployment.redis.client();
  try {
    const slotKeys = Array.from({ length: SLOT_CUSTOMERS }, (_, index) =>
      slotKey("process_order", `hold-500-slot-${index}`),
    );
    const holders = async () => (await Promise.all(slotKeys.map((key) => redis.zrange(key, "0", "-1")))).flat();
    await until("the worker holds slots of two customers", async () => (await holders()).length >= 2, 20_000);
    const dead = new Set(await holders());
    await deployment.kill("worker");
    const killedAt = performance.now();
    await Bun.sleep(DOWN_MS);
    await deployment.startProcess("worker");
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

/** The faults of one machine: `bun run faults`. */
export const SCENARIOS: Scenario<SingleNode>[] = [
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
    async inject(deployment) {
      await deployment.broker.freeze();
      try {
        await Bun.sleep(1000);
        await deployment.kill("api");
      } finally {
        deployment.broker.thaw();
      }
      await deployment.startProcess("api");
    },
  },
  {
    name: "RabbitMQ stop_app/start_app",
    async inject(deployment) {
      await deployment.broker.stopApp();
      await Bun.sleep(OUTAGE_MS);
      await deployment.broker.startApp();
    },
  },
  {
    name: "Redis restart (AOF)",
    async inject(deployment) {
      await deployment.redis.stop("SIGTERM");
      await Bun.sleep(OUTAGE_MS);
      await deployment.redis.start();
    },
  },
  {
    name: "memory alarm (blocked)",
    async inject(deployment) {
      await deployment.broker.setMemoryAlarm(true);
      await Bun.sleep(ALARM_MS);
      await deployment.broker.setMemoryAlarm(false);
    },
  },
  {
    name: "close_all_connections x2",
    async inject(deployment) {
      await deployment.broker.closeAllConnections();
      await Bun.sleep(OUTAGE_MS / 2);
      await deployment.broker.closeAllConnections();
      await Bun.sleep(OUTAGE_MS / 2);
    },
  },
  {
    name: "SIGTERM api + worker mid-load",
    apiGoesAway: true,
    // The drain gives handlers SHUTDOWN_TIMEOUT_MS; the 5 s ones are cut off like a crash, and
    // one whose effect landed in the last instant, before its completion was recorded, runs again.
    crashes: true,
    async inject(deployment, notes) {
      const { api, worker } = deployment;
      api.signal("SIGTERM");
      worker.signal("SIGTERM");
      const [apiCode, workerCode] = await Promise.all([api.exited, worker.exited]);
      notes.push(`exit codes api=${apiCode} worker=${workerCode}`);
      if (apiCode !== 0 || workerCode !== 0)
        throw new Error(`SIGTERM exit codes: api ${apiCode}, worker ${workerCode}`);
      await Promise.all([deployment.startProcess("api"), deployment.startProcess("worker")]);
    },
  },
];
