import { until } from "../helpers/eventually";
import type { Clustered } from "./clustered";
import type { Scenario } from "./scenario";
import { DOWN_MS, OUTAGE_MS } from "./scenarios";

/** The queue of the order subscription in the shipped rascal.json. */
const WORK_QUEUE = "orders.process";
/** How long a killed broker node stays down: clients keep going on the other two meanwhile. */
const NODE_DOWN_MS = 3000;

const seconds = (fromMs: number) => `${((performance.now() - fromMs) / 1000).toFixed(1)} s`;

/** The faults of a clustered deployment: `bun run faults --cluster`. */
export const CLUSTER_SCENARIOS: Scenario<Clustered>[] = [
  {
    name: "no fault (baseline)",
    short: true,
    inject: () => Bun.sleep(2 * OUTAGE_MS),
  },
  {
    name: "SIGKILL the broker node leading the work queue, restart it",
    short: true,
    async inject(deployment, notes) {
      const leader = await deployment.broker.leaderOf(WORK_QUEUE);
      await leader.kill();
      const killedAt = performance.now();
      await until(
        "another node leads the work queue",
        async () => (await deployment.broker.leaderOf(WORK_QUEUE).catch(() => leader)) !== leader,
        30_000,
      );
      notes.push(`new leader elected ${seconds(killedAt)} after the kill`);
      await Bun.sleep(NODE_DOWN_MS);
      await leader.start();
      await deployment.broker.waitAllRunning();
      notes.push(`node back in the cluster ${seconds(killedAt)} after the kill`);
    },
  },
  {
    name: "SIGKILL the Redis primary (Sentinel failover), restart it as a replica",
    short: true,
    async inject(deployment, notes) {
      const primary = await deployment.redis.primary();
      await primary.stop("SIGKILL");
      const killedAt = performance.now();
      await until(
        "the sentinels promote the replica",
        async () => (await deployment.redis.primary().catch(() => primary)) !== primary,
        30_000,
      );
      notes.push(`replica promoted ${seconds(killedAt)} after the kill`);
      await Bun.sleep(DOWN_MS);
      // It comes back as a primary with its own (older) data; the sentinels make it a replica.
      await primary.start();
      await deployment.redis.waitReplicated();
      notes.push(`old primary a replica in sync ${seconds(killedAt)} after the kill`);
    },
  },
  {
    name: "SIGKILL one API and one worker replica, restart them",
    crashes: true,
    apiCrashes: true,
    async inject(deployment) {
      await Promise.all([deployment.killReplica("api", 0), deployment.killReplica("worker", 0)]);
      await Bun.sleep(DOWN_MS);
      await Promise.all([deployment.startReplica("api", 0), deployment.startReplica("worker", 0)]);
    },
  },
  {
    name: "rolling restart of all three broker nodes",
    async inject(deployment, notes) {
      for (const node of deployment.broker.nodes) {
        const started = performance.now();
        await node.awaitSafeToStop();
        await node.stop();
        await node.start();
        await deployment.broker.waitAllRunning();
        notes.push(`${node.nodeName.split("@")[0]} back in ${seconds(started)}`);
      }
    },
  },
];
