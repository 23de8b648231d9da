import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { loadTopology, TopologyError } from "../src/broker/topology";
import { loadConfig } from "../src/config";
import { loadHandlers } from "../src/runtime/load-handlers";
import { freePort } from "./helpers/free-port";
import { FIXTURE_HANDLERS, type OrderJson, sampleOrder, startTestService } from "./helpers/service";

const MAIN = new URL("../src/main.ts", import.meta.url).pathname;
const REPO = new URL("..", import.meta.url).pathname;

/** Runs the real entry point and returns its exit code and stderr. */
async function runMain(env: Record<string, string>, args: string[] = []) {
  const child = Bun.spawn(["bun", MAIN, ...args], {
    cwd: REPO,
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "error", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill(), 15_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function tempTopology(content: unknown): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "topology-"));
  const path = join(dir, "rascal.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function baseTopology(): Promise<Record<string, any>> {
  return JSON.parse(await Bun.file(join(REPO, "rascal.json")).text());
}

describe("configuration", () => {
  test("defaults need no environment", () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.ROLE).toBe("all");
    expect(config.amqpUrl).toBe("amqp://guest:guest@127.0.0.1:5672");
    expect(config.amqpUrlOverride).toBe(false);
    expect(config.ORDER_TIMEOUT_MS).toBe(900_000);
  });

  test("an invalid variable stops the process with its name", async () => {
    const result = await runMain({ PORT: "not-a-port", ROLE: "boss" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("PORT");
    expect(result.stderr).toContain("ROLE");
  });
});

describe("connection settings", () => {
  test("an unusable URL or port is refused naming the variable, never printing a password", async () => {
    const result = await runMain({
      REDIS_URL: "redis://:redis-pw@127.0.0.1:99999/8",
      AMQP_URL: "amqp://app:amqp-pw@broker:notaport/",
      PORT: "0x10",
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("REDIS_URL: must be a redis:// or rediss:// URL");
    expect(result.stderr).toContain("AMQP_URL: must be an amqp:// or amqps:// URL");
    expect(result.stderr).toContain("PORT: must be a port number");
    expect(result.stderr).not.toMatch(/redis-pw|amqp-pw/);
  });

  test("REDIS_URL's path is the database number", () => {
    expect(() => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379/abc" })).toThrow(
      "REDIS_URL: its path must be a database number",
    );
    expect(loadConfig({ REDIS_URL: "redis://127.0.0.1:6379/3" }).REDIS_URL).toBe("redis://127.0.0.1:6379/3");
    expect(loadConfig({ PORT: "0" }).PORT).toBe(0);
  });
});

describe("handlers", () => {
  const plans = (handler: string) => [{ name: "process_order", handler, queue: "q", vhost: "/", retry: {} as never }];

  test("an unknown handler name fails naming the file and key", async () => {
    const failure = loadHandlers(plans("no-such-handler"), FIXTURE_HANDLERS, "/srv/rascal.json", {});
    await expect(failure).rejects.toThrow(
      '/srv/rascal.json: subscriptions.process_order.handler: unknown handler "no-such-handler"',
    );
  });

  test("a handler file without a default function fails naming the file", async () => {
    const failure = loadHandlers(plans("no-default"), FIXTURE_HANDLERS, "rascal.json", {});
    await expect(failure).rejects.toThrow(/no-default\.ts must have a default export that is a function/);
  });

  test("the service refuses to start with an unknown handler", async () => {
    const topology = await baseTopology();
    topology.subscriptions.process_order.handler = "missing-handler";
    const file = tempTopology(topology);
    try {
      const result = await runMain({ RASCAL_CONFIG: file.path, PORT: "0" });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(file.path);
      expect(result.stderr).toContain("subscriptions.process_order.handler");
      expect(result.stderr).toContain("missing-handler");
    } finally {
      file.cleanup();
    }
  });
});

describe("rascal.json", () => {
  const load = (path: string) => loadTopology({ path, defaultAmqpUrl: "amqp://guest:guest@127.0.0.1:5672" });

  test("invalid JSON names the file", async () => {
    const file = tempTopology("{ not json");
    try {
      expect(() => load(file.path)).toThrow(TopologyError);
      expect(() => load(file.path)).toThrow(file.path);
    } finally {
      file.cleanup();
    }
  });

  test("a bad pipeline key names the key", async () => {
    const topology = await baseTopology();
    topology.pipeline.retries.process_order.delays = [1000, -5];
    const file = tempTopology(topology);
    try {
      expect(() => load(file.path)).toThrow("pipeline.retries.process_order.delays.1");
    } finally {
      file.cleanup();
    }
  });

  test("a publication to an exchange or queue the vhost does not declare names the file and the key", async () => {
    for (const [kind, patch] of [
      ["exchange", { exchange: "no_such_exchange" }],
      ["queue", { exchange: undefined, queue: "no_such_queue" }],
    ] as const) {
      const topology = await baseTopology();
      topology.publications.order_completed = { ...topology.publications.order_completed, ...patch };
      const file = tempTopology(topology);
      try {
        expect(() => load(file.path)).toThrow(
          `${file.path}: publications.order_completed.${kind}: ` +
            `${kind} "no_such_${kind}" is not declared in vhosts./.${kind}s`,
        );
      } finally {
        file.cleanup();
      }
    }
  });

  test("a topology Rascal rejects stops start-up naming the file and the key", async () => {
    const topology = await baseTopology();
    topology.subscriptions.process_order.retries = 3;
    const file = tempTopology(topology);
    try {
      const result = await runMain({ RASCAL_CONFIG: file.path, PORT: "0" });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(file.path);
      expect(result.stderr).toContain("process_order");
      expect(result.stderr).toContain("retries");
    } finally {
      file.cleanup();
    }
  });

  test("the retry ladder expands into one delay queue per tier, visible with --print-topology", async () => {
    const result = await runMain({}, ["--print-topology"]);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    const queues = printed.vhosts["/"].queues;
    // Quorum queues: replicated over a cluster's nodes like the work queues.
    expect(queues["orders.process.retry.1000ms"].options.arguments).toEqual({
      "x-queue-type": "quorum",
      "x-message-ttl": 1000,
      "x-dead-letter-exchange": "orders.process.requeue",
    });
    expect(queues["orders.timeout.900000ms"].options.arguments).toMatchObject({ "x-queue-type": "quorum" });
    expect(queues["orders.process.retry.5000ms"].options.arguments["x-message-ttl"]).toBe(5000);
    expect(queues["orders.process.retry.30000ms"].options.arguments["x-message-ttl"]).toBe(30000);
    // rascal.json's own pipeline section is expanded, not passed on: what shows is the runtime's view.
    expect(printed.pipeline.retries).toBeUndefined();
    expect(printed.pipeline.process_order).toEqual({
      handler: "process-order",
      retryDelaysMs: [1000, 5000, 30000],
      maxAttempts: 4,
    });
    expect(result.stdout).not.toContain("guest:guest");
  });

  test("topology print masks broker passwords in every form a connection can take", async () => {
    const topology = await baseTopology();
    const vhost = topology.vhosts["/"];
    delete vhost.connection;
    vhost.connections = [
      "amqp://orders:secret-1@rabbit-1:5672",
      { url: "amqp://orders:secret-2@rabbit-2:5672" },
      { hostname: "rabbit-3", user: "orders", password: "secret-3" },
    ];
    const file = tempTopology(topology);
    try {
      const result = await runMain({ RASCAL_CONFIG: file.path }, ["topology", "print"]);
      expect(result.code).toBe(0);
      expect(result.stdout).not.toMatch(/secret-[123]/);
      expect(result.stdout).toContain("amqp://orders:***@rabbit-1:5672");
      expect(JSON.parse(result.stdout).vhosts["/"].connections[2]).toMatchObject({
        hostname: "rabbit-3",
        password: "***",
      });
    } finally {
      file.cleanup();
    }
  });

  test("AMQP_URL replaces the connection of every vhost", () => {
    const topology = loadTopology({
      path: join(REPO, "rascal.json"),
      defaultAmqpUrl: "amqp://guest:guest@127.0.0.1:5672",
      amqpUrlOverride: "amqp://user:pw@broker.internal:5672/shop",
    });
    expect((topology.rascal.vhosts["/"]!.connection as { url: string }).url).toBe(
      "amqp://user:pw@broker.internal:5672/shop",
    );
  });

  test("AMQP_URL also replaces a list of cluster connections", () => {
    const topology = loadTopology({
      path: join(REPO, "rascal.json"),
      defaultAmqpUrl: "amqp://guest:guest@127.0.0.1:5672",
      amqpUrlOverride: "amqp://user:pw@broker.internal:5672/shop",
      transform: (config) => {
        const vhost = config.vhosts["/"]!;
        delete vhost.connection;
        vhost.connections = [{ url: "amqp://a:5672" }, { url: "amqp://b:5672" }];
      },
    });
    expect(topology.rascal.vhosts["/"]!.connections).toBeUndefined();
    expect((topology.rascal.vhosts["/"]!.connection as { url: string }).url).toBe(
      "amqp://user:pw@broker.internal:5672/shop",
    );
  });

  test("AMQP_URL may list a cluster's nodes, comma-separated; each is checked", () => {
    const topology = loadTopology({
      path: join(REPO, "rascal.json"),
      defaultAmqpUrl: "amqp://guest:guest@127.0.0.1:5672",
      amqpUrlOverride: "amqp://u:pw@rabbit-1:5672, amqp://u:pw@rabbit-2:5672",
    });
    expect(topology.rascal.vhosts["/"]!.connection).toBeUndefined();
    expect(topology.rascal.vhosts["/"]!.connections).toEqual([
      "amqp://u:pw@rabbit-1:5672",
      "amqp://u:pw@rabbit-2:5672",
    ]);
    expect(() => loadConfig({ AMQP_URL: "amqp://rabbit-1:5672,http://rabbit-2" })).toThrow(
      "AMQP_URL: URL 2: must be an amqp:// or amqps:// URL",
    );
  });

  test("with a dead node first in AMQP_URL, the service uses the next and processes orders", async () => {
    const dead = `amqp://guest:guest@127.0.0.1:${freePort()}`;
    const service = await startTestService({ env: { AMQP_URL: `${dead},amqp://guest:guest@127.0.0.1:5672` } });
    try {
      const response = await service.post(sampleOrder());
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as OrderJson;
      await service.waitForOrder(id, (order) => order.status === "completed");
    } finally {
      await service.close();
    }
  });
});

describe("port", () => {
  test("a PORT already in use stops start-up with one line naming it", async () => {
    const occupant = Bun.serve({ port: 0, fetch: () => new Response("taken") });
    const first = await startTestService();
    try {
      const second = startTestService({
        namespace: first.namespace,
        env: { PORT: String(occupant.port) },
        service: { listen: true },
      });
      const error = await second.then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (failure: Error) => failure,
      );
      expect(error?.name).toBe("ConnectError");
      expect(error?.message).toBe(`PORT ${occupant.port} is already in use by another process (HOST 0.0.0.0)`);
    } finally {
      await first.close();
      await occupant.stop(true);
    }
  });
});

describe("topology drift", () => {
  test("a queue that exists with other arguments stops start-up naming the queue and argument", async () => {
    const first = await startTestService();
    const namespace = first.namespace;
    try {
      const second = startTestService({
        namespace,
        transform: (config) => {
          const queues = (config.vhosts["/"] as { queues: Record<string, any> }).queues;
          queues["orders.process"].options.arguments["x-delivery-limit"] = 7;
        },
      });
      const error = await second.then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (failure: Error) => failure,
      );
      expect(error?.message).toMatch(
        new RegExp(
          'rascal\\.json: topology differs from the broker: queue "t-[0-9a-f]+:orders\\.process" ' +
            "already exists with x-delivery-limit = 50, but rascal\\.json declares 7",
        ),
      );
    } finally {
      await first.close();
    }
  });

  test("a delay queue left classic by an earlier version stops start-up saying how to migrate it", async () => {
    const namespace = `t-${crypto.randomUUID().slice(0, 8)}`;
    const queue = `${namespace}:orders.process.retry.1000ms`;
    const connection = await amqp.connect(process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672");
    const channel = await connection.createChannel();
    // As the earlier versions declared their retry tiers: classic queues.
    await channel.assertQueue(queue, {
      durable: true,
      arguments: { "x-message-ttl": 1000, "x-dead-letter-exchange": `${namespace}:orders.process.requeue` },
    });
    try {
      const error = await startTestService({ namespace }).then(
        async (started) => {
          await started.close();
          return undefined;
        },
        (failure: Error) => failure,
      );
      // RabbitMQ names the first argument that differs (x-overflow, x-queue-type…).
      expect(error?.message).toMatch(
        new RegExp(`queue "${queue}" already exists with x-[a-z-]+ = none, but the service declares`),
      );
      expect(error?.message).toContain(`It is a delay queue the service declares itself`);
      expect(error?.message).toContain(`rabbitmqctl delete_queue '${queue}'`);
    } finally {
      await channel.deleteQueue(queue);
      await connection.close();
      // What the refused start-up declared before the clash goes with its namespace.
      await (await startTestService({ namespace })).close();
    }
  });
});
