import type { Writable } from "node:stream";
import type { ChannelModel } from "amqplib";
import amqp from "amqplib";
import type { Logger } from "../log";

const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

export interface AmqpConnectionOptions {
  /** The broker's URLs (the nodes of one cluster), tried in turn. */
  urls: readonly string[];
  /** Shown in the broker's connection list and in log lines. */
  name: string;
  log: Logger;
  /** Sets up channels on a new connection; a rejection closes it and counts as a failed attempt. */
  opened?(connection: ChannelModel): Promise<void>;
  /** The connection went away (not by `close`): whatever was in flight on it is lost. */
  lost?(): void;
}

/**
 * One amqplib connection of the service's own (the publisher's, the consumers'), reopened with
 * backoff whenever it is lost, with the broker's resource-alarm state at hand. With several
 * URLs (a vhost's `connections` in rascal.json, in Rascal's order) each attempt tries them in
 * turn, starting with the one that worked last, as Rascal does for its own connection.
 */
export class AmqpConnection {
  private connection?: ChannelModel;
  private blockedByAlarm = false;
  private closing = false;
  private reconnectDelay = RECONNECT_MIN_MS;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  /** Whether the socket is corked until the next turn of the event loop. */
  private corked = false;
  /** Index in `urls` of the URL to try first. */
  private preferred = 0;

  private readonly urls: readonly string[];
  readonly name: string;
  private readonly log: Logger;

  constructor(private readonly options: AmqpConnectionOptions) {
    this.urls = options.urls;
    this.name = options.name;
    this.log = options.log;
  }

  /** The live connection, if any. */
  get current(): ChannelModel | undefined {
    return this.connection;
  }

  /** A resource alarm (memory, disk) makes the broker block this connection's publishes. */
  get blocked(): boolean {
    return this.blockedByAlarm;
  }

  /** Connects once; rejects when the broker cannot be reached now (start-up fails fast). */
  open(): Promise<void> {
    return this.connect();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const connection = this.connection;
    this.connection = undefined;
    this.uncork(connection);
    await connection?.close().catch(() => {});
  }

  /** Drops the live connection (it will be reopened), e.g. after a channel could not be restored. */
  reset(): void {
    void this.connection?.close().catch(() => {});
  }

  /**
   * amqplib hands every frame to the socket separately, one send system call each. Corking the
   * socket until the next turn of the event loop sends all frames of this turn (from many
   * concurrent requests or messages) in one write. amqplib moves frames to the socket from a
   * setImmediate of its own, queued after ours, hence the uncork one turn later still.
   */
  cork(): void {
    if (this.corked) return;
    const connection = this.connection;
    const socket = socketOf(connection);
    if (!socket || typeof socket.cork !== "function") return;
    socket.cork();
    this.corked = true;
    setImmediate(() => setImmediate(() => this.uncork(connection)));
  }

  private uncork(connection: ChannelModel | undefined): void {
    if (!this.corked) return;
    this.corked = false;
    socketOf(connection)?.uncork();
  }

  private async connect(): Promise<void> {
    const connection = await this.reachAny();
    connection.on("error", (error: Error) =>
      this.log.warn({ err: error.message, connection: this.name }, "broker connection error"),
    );
    try {
      await this.options.opened?.(connection);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
    if (this.closing) {
      await connection.close().catch(() => {});
      return;
    }
    this.connection = connection;
    this.blockedByAlarm = false;
    this.reconnectDelay = RECONNECT_MIN_MS;
    connection.on("blocked", (reason: string) => {
      this.blockedByAlarm = true;
      this.log.warn({ reason, connection: this.name }, "broker blocked the connection");
    });
    connection.on("unblocked", () => {
      this.blockedByAlarm = false;
      this.log.info({ connection: this.name }, "broker unblocked the connection");
    });
    connection.on("close", () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.corked = false;
      this.options.lost?.();
      if (!this.closing) {
        this.log.warn({ connection: this.name }, "broker connection lost; reconnecting");
        this.scheduleReconnect();
      }
    });
  }

  private async reachAny(): Promise<ChannelModel> {
    let lastError: unknown = new Error("no broker URL configured");
    for (let tried = 0; tried < this.urls.length; tried++) {
      const index = (this.preferred + tried) % this.urls.length;
      try {
        const connection = await amqp.connect(this.urls[index]!, { clientProperties: { connection_name: this.name } });
        this.preferred = index;
        return connection;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.connection) return;
      this.connect().then(
        () => this.log.info({ connection: this.name }, "broker connection restored"),
        (error: unknown) => {
          this.log.warn({ err: (error as Error).message, connection: this.name }, "cannot reach the broker; retrying");
          this.scheduleReconnect();
        },
      );
    }, delay);
  }
}

function socketOf(connection: ChannelModel | undefined): Writable | undefined {
  return (connection as unknown as { connection?: { stream?: Writable } } | undefined)?.connection?.stream;
}
