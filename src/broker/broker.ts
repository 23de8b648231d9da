import { BrokerAsPromised } from "rascal";
import type { Logger } from "../log";
import { TopologyError, type Topology } from "./topology";

/** Connection state of the broker, kept from Rascal's vhost events. */
export interface BrokerHealth {
  connected: boolean;
  /** A resource alarm (memory, disk) made the broker block publishers. */
  blocked: boolean;
}

export interface BrokerHandle {
  broker: BrokerAsPromised;
  health: BrokerHealth;
}

/**
 * Creates the Rascal broker: Rascal validates the topology (its messages name the offending
 * key), asserts it on the broker and reconnects on its own after a connection loss.
 */
export async function connectBroker(topology: Topology, log: Logger): Promise<BrokerHandle> {
  const health: BrokerHealth = { connected: false, blocked: false };
  let broker: BrokerAsPromised;
  try {
    broker = await BrokerAsPromised.create(topology.rascal as never);
  } catch (error) {
    throw describeStartupError(error as Error & { code?: number }, topology);
  }
  health.connected = true;
  broker.on("error", (error: Error) => log.error({ err: error }, "broker error"));
  broker.on("connect", () => {
    health.connected = true;
    health.blocked = false;
    log.info("broker connected");
  });
  broker.on("disconnect", () => {
    health.connected = false;
    log.warn("broker connection lost; reconnecting");
  });
  broker.on("blocked", (reason: string) => {
    health.blocked = true;
    log.warn({ reason }, "broker blocked publishers");
  });
  broker.on("unblocked", () => {
    health.blocked = false;
    log.info("broker unblocked publishers");
  });
  return { broker, health };
}

/** Turns Rascal's and RabbitMQ's start-up errors into messages naming the file and key. */
function describeStartupError(error: Error & { code?: number }, topology: Topology): Error {
  const message = error.message ?? String(error);
  if (error.code === 406 || /PRECONDITION_FAILED/.test(message)) {
    const match = /inequivalent arg '([^']+)' for queue '([^']+)'[^:]*: received (.*?) but current is (.*?)"?$/.exec(
      message,
    );
    const value = (text: string) =>
      text
        .replace(/^the value /, "")
        .replace(/ of type .*$/, "")
        .replace(/^'(.*)'$/, "$1");
    const detail = match
      ? `queue "${match[2]}" already exists with ${match[1]} = ${value(match[4]!)}, but rascal.json declares ${value(match[3]!)}`
      : message;
    return new TopologyError(
      `${topology.source}: topology differs from the broker: ${detail}. Delete the queue or change rascal.json to match.`,
    );
  }
  if (/unsupported attribute|refers to an unknown|is missing|must be|Invalid|Duplicate/.test(message)) {
    return new TopologyError(`${topology.source}: rejected by Rascal: ${message}`);
  }
  return error;
}
