import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import amqp from "amqplib";
import type { Subprocess } from "bun";
import { freePort } from "./free-port";

/**
 * The real scripts, not the /usr/sbin wrappers: those switch to the `rabbitmq` user and its
 * Erlang cookie, which is the shared node's.
 */
function rabbitBinDir(): string | undefined {
  const candidates = [process.env.RABBITMQ_BIN_DIR, "/usr/lib/rabbitmq/bin"];
  const onPath = Bun.which("rabbitmq-server");
  if (onPath) candidates.push(dirname(onPath));
  return candidates.find(
    (dir): dir is string => !!dir && existsSync(join(dir, "rabbitmq-server")) && existsSync(join(dir, "rabbitmqctl")),
  );
}

/** Whether this machine can run a private RabbitMQ node (fault tests skip otherwise). */
export const canRunPrivateRabbitMQ = rabbitBinDir() !== undefined;

export interface QueueDepth {
  name: string;
  ready: number;
  unacked: number;
}

/**
 * A RabbitMQ node of our own (own node name, ports, cookie, data and config), started as a
 * child process: fault tests stop it, block it and drop its connections without touching
 * the broker that other test runs share on 5672. Every control command names this node.
 */
export class PrivateRabbitMQ {
  readonly port = freePort();
  private readonly distPort = freePort();
  readonly nodeName = `faults-${crypto.randomUUID().slice(0, 8)}@localhost`;
  readonly user = "faults";
  readonly password: string;
  private readonly cookie: string;
  private readonly dir = mkdtempSync(join(tmpdir(), "faults-rmq-"));
  private readonly bin: string;
  private child: Subprocess | undefined;
  private frozenPid: number | undefined;

  /** `cookie`: the Erlang cookie, the same for every node of one private cluster (random by default). */
  constructor(options: { password?: string; cookie?: string } = {}) {
    const bin = rabbitBinDir();
    if (!bin) throw new Error("rabbitmq-server not found (set RABBITMQ_BIN_DIR)");
    this.bin = bin;
    this.password = options.password ?? crypto.randomUUID();
    this.cookie = options.cookie ?? crypto.randomUUID().replaceAll("-", "");
  }

  get url(): string {
    return `amqp://${this.user}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}`;
  }

  /**
   * Boots the node and waits until it accepts clients; returns how long that took. After `kill`
   * it boots again on the same data (and rejoins its cluster).
   */
  async start(): Promise<number> {
    const started = performance.now();
    const home = join(this.dir, "home");
    if (!existsSync(home)) {
      mkdirSync(home, { recursive: true });
      // Our own cookie: the CLI then reaches our node (and its cluster) only, never the shared one.
      writeFileSync(join(home, ".erlang.cookie"), this.cookie, { mode: 0o400 });
      writeFileSync(join(this.dir, "env.conf"), "");
      writeFileSync(join(this.dir, "enabled_plugins"), "[].\n");
      writeFileSync(join(this.dir, "rabbitmq.conf"), `default_user = ${this.user}\ndefault_pass = ${this.password}\n`);
    }
    this.child = Bun.spawn([join(this.bin, "rabbitmq-server")], {
      cwd: this.dir,
      env: this.env(),
      stdout: Bun.file(join(this.dir, "server.log")),
      stderr: Bun.file(join(this.dir, "server.err")),
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`private RabbitMQ exited during boot; see ${this.dir}`);
      const result = await this.ctlResult(["await_startup", "--timeout", "30"]);
      if (result.code === 0) return performance.now() - started;
      await Bun.sleep(250);
    }
    throw new Error(`private RabbitMQ did not start within 60 s; see ${this.dir}`);
  }

  /** Stops the node and removes its files. Safe to call twice. */
  async destroy(): Promise<void> {
    this.thaw();
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null) {
      await this.ctlResult(["stop"]);
      const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
      if (!exited) child.kill("SIGKILL");
      await child.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Whether the node's process runs (it may still be booting). */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /** Makes this (started) node a member of the cluster that `seed` belongs to. */
  async joinCluster(seed: PrivateRabbitMQ): Promise<void> {
    await this.ctl(["stop_app"]);
    await this.ctl(["join_cluster", seed.nodeName]);
    await this.ctl(["start_app"]);
    await this.ctl(["await_startup", "--timeout", "60"]);
  }

  /** The node dies without warning (SIGKILL to its Erlang VM); `start` brings it back. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const pid = await this.vmPid();
    process.kill(pid, "SIGKILL");
    await Promise.race([child.exited, Bun.sleep(10_000)]);
    if (child.exitCode === null) child.kill("SIGKILL");
    await child.exited;
    this.child = undefined;
  }

  /** A clean stop of the whole node (as in a rolling restart); `start` brings it back. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    await this.ctl(["stop"]);
    await child.exited;
    this.child = undefined;
  }

  /** The broker goes away (connections closed, port closed) with the Erlang node still up. */
  stopApp(): Promise<string> {
    return this.ctl(["stop_app"]);
  }

  /**
   * Starts the broker again and waits until it takes quorum queues again: for a moment after
   * start_app it accepts connections but closes the channel of a quorum queue's declare.
   */
  async startApp(): Promise<string> {
    const output = await this.ctl(["start_app"]);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const failure = await this.declareProbeQueue().then(
        () => undefined,
        (error: unknown) => error as Error,
      );
      if (!failure) return output;
      if (Date.now() > deadline)
        throw new Error(`quorum queues not available 30 s after start_app: ${failure.message}`);
      await Bun.sleep(250);
    }
  }

  private async declareProbeQueue(): Promise<void> {
    const connection = await amqp.connect(this.url);
    connection.on("error", () => {});
    try {
      const channel = await connection.createChannel();
      channel.on("error", () => {});
      const queue = `probe-${crypto.randomUUID()}`;
      await channel.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });
      await channel.deleteQueue(queue);
    } finally {
      await connection.close().catch(() => {});
    }
  }

  /** A memory alarm: the broker blocks every connection that publishes. Returns once it is (un)set. */
  async setMemoryAlarm(on: boolean): Promise<void> {
    await this.ctl(["set_vm_memory_high_watermark", on ? "0.0001" : "0.4"]);
    const deadline = Date.now() + 10_000;
    while ((await this.ctl(["eval", "rabbit_alarm:get_alarms()."])).includes("memory") !== on) {
      if (Date.now() > deadline) throw new Error(`memory alarm not ${on ? "raised" : "cleared"} after 10 s`);
      await Bun.sleep(100);
    }
  }

  /**
   * Freezes the whole node (SIGSTOP to its Erlang VM) until `thaw`: it reads, confirms and
   * answers nothing, and unlike an alarm it does not tell clients. Publishes written meanwhile
   * wait in its socket buffers.
   */
  async freeze(): Promise<void> {
    this.frozenPid = await this.vmPid();
    process.kill(this.frozenPid, "SIGSTOP");
  }

  thaw(): void {
    if (this.frozenPid === undefined) return;
    process.kill(this.frozenPid, "SIGCONT");
    this.frozenPid = undefined;
  }

  /** The OS process id of the node's Erlang VM (the server script's child, not the script). */
  private async vmPid(): Promise<number> {
    const output = await this.ctl(["eval", "os:getpid()."]);
    const pid = Number(output.replaceAll(/[^0-9]/g, ""));
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`unexpected pid from the node: ${output}`);
    return pid;
  }

  closeAllConnections(): Promise<string> {
    return this.ctl(["close_all_connections", "fault injection"]);
  }

  /** Messages ready and unacknowledged per queue (optionally only names containing `filter`). */
  async queues(filter = ""): Promise<QueueDepth[]> {
    const output = await this.ctl([
      "list_queues",
      "--quiet",
      "--no-table-headers",
      "name",
      "messages_ready",
      "messages_unacknowledged",
    ]);
    return output
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields.length === 3 && fields[0]!.includes(filter))
      .map(([name, ready, unacked]) => ({ name: name!, ready: Number(ready), unacked: Number(unacked) }));
  }

  /** The node that leads each quorum queue, by queue name. */
  async queueLeaders(): Promise<Map<string, string>> {
    const output = await this.ctl(["list_queues", "--quiet", "--no-table-headers", "name", "leader"]);
    const leaders = new Map<string, string>();
    for (const line of output.split("\n")) {
      const [name, leader] = line.trim().split(/\s+/);
      if (name && leader) leaders.set(name, leader);
    }
    return leaders;
  }

  /**
   * Waits until stopping this node leaves every quorum queue a majority of its members online
   * (the check of a rolling restart, before each node goes down).
   */
  async awaitSafeToStop(timeoutSeconds = 60): Promise<void> {
    const args = ["await_online_quorum_plus_one", "--timeout", String(timeoutSeconds)];
    const result = await this.ctlResult(args, "rabbitmq-upgrade");
    if (result.code !== 0) throw new Error(`rabbitmq-upgrade ${args.join(" ")} failed: ${result.output}`);
  }

  async ctl(args: string[]): Promise<string> {
    const result = await this.ctlResult(args);
    if (result.code !== 0) throw new Error(`rabbitmqctl ${args.join(" ")} failed: ${result.output}`);
    return result.output;
  }

  private async ctlResult(args: string[], tool = "rabbitmqctl"): Promise<{ code: number; output: string }> {
    const child = Bun.spawn([join(this.bin, tool), "-n", this.nodeName, ...args], {
      env: this.env(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
      child.exited,
    ]);
    return { code, output: stdout + stderr };
  }

  private env(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: join(this.dir, "home"),
      LANG: "C.UTF-8",
      RABBITMQ_NODENAME: this.nodeName,
      // Our own files for everything the shared installation configures in /etc/rabbitmq.
      RABBITMQ_CONF_ENV_FILE: join(this.dir, "env.conf"),
      RABBITMQ_CONFIG_FILE: join(this.dir, "rabbitmq.conf"),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, "advanced.config"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, "enabled_plugins"),
      RABBITMQ_MNESIA_BASE: join(this.dir, "mnesia"),
      RABBITMQ_LOG_BASE: join(this.dir, "log"),
      RABBITMQ_PID_FILE: join(this.dir, "pid"),
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    };
  }
}
