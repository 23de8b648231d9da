/**
 * What the broker's CPU per message depends on, measured with raw amqplib against AMQP_URL
 * (beam.smp's CPU time from /proc, so run it on the broker's machine, with nothing else loaded):
 *   acks      — consuming a quorum queue, acked one by one vs through the service's AckBatcher
 *               (the acks of a turn in one write, contiguous ones as one `multiple` ack);
 *   trickle   — quorum-queue publishes at BENCH_RATE/s (default 2,000) in small groups, alone and
 *               with an unroutable event publish beside each;
 *   latency   — publish→deliver latency of a quorum queue at 1,000 messages/s (the broker's
 *               own share of submit→completed), and the broker's CPU per message at that rate;
 *   types     — a quorum queue against a classic durable one (persistent messages, confirms):
 *               publish+consume with 64 in flight, and at 1,000 messages/s with the broker's
 *               user and system CPU apart — whether the queue type is what the broker's share
 *               of an order costs.
 * Usage: bun bench/probes/broker-cpu.ts [acks|trickle|latency|types] (the first three without an argument)
 */
import amqp from "amqplib";
import { AckBatcher } from "../../src/broker/ack-batcher";
import { cpuSeconds, cpuUserSystem, pidOf } from "../lib/cpu-meter";
import { percentile } from "../lib/stats";

const url = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const beamPid = pidOf("beam.smp");
if (!beamPid) throw new Error("no beam.smp process on this machine");
/** CPU milliseconds the broker has used so far. */
const brokerCpuMs = () => (cpuSeconds(beamPid) ?? NaN) * 1000;
const brokerUserSystem = () => cpuUserSystem(beamPid) ?? { user: NaN, system: NaN };
const body = Buffer.from(
  JSON.stringify({
    orderId: "0190f0f0-0000-7000-8000-000000000000",
    customerId: "c-42",
    items: [{ sku: "SKU-1", quantity: 2, unitPrice: 19.99 }],
    currency: "EUR",
    total: 39.98,
  }),
);
const queue = `probe-${process.pid}`;
const connection = await amqp.connect(url);
const publisher = await connection.createConfirmChannel();
await publisher.assertQueue(queue, { durable: true, arguments: { "x-queue-type": "quorum" } });

try {
  const only = process.argv[2];
  if (!only || only === "acks") await acks();
  if (!only || only === "trickle") await trickle();
  if (!only || only === "latency") await latency();
  if (only === "types") await queueTypes();
} finally {
  await publisher.deleteQueue(queue).catch(() => {});
  await connection.close();
}

async function acks(): Promise<void> {
  const count = 20_000;
  for (const batched of [false, true]) {
    for (let i = 0; i < count; i++) publisher.sendToQueue(queue, body, { persistent: true });
    await publisher.waitForConfirms();
    const consumerConnection = await amqp.connect(url);
    const channel = await consumerConnection.createChannel();
    await channel.prefetch(64);
    const batcher = new AckBatcher(channel, () => {});
    let settled = 0;
    let finished: () => void = () => {};
    const done = new Promise<void>((resolve) => (finished = resolve));
    const before = brokerCpuMs();
    await channel.consume(queue, (message) => {
      if (!message) return;
      batcher.delivered(message);
      // Handled a moment later, as a worker would; acked alone, or through the service's AckBatcher.
      setTimeout(() => {
        if (batched) batcher.ack(message);
        else channel.ack(message);
        if (++settled === count) finished();
      }, 1);
    });
    await done;
    await Bun.sleep(100);
    console.log(
      `acks ${batched ? "through AckBatcher" : "one by one"}: ` +
        `broker ${(((brokerCpuMs() - before) * 1000) / count).toFixed(1)} µs/message`,
    );
    await consumerConnection.close();
  }
}

async function trickle(): Promise<void> {
  const rate = Number(process.env.BENCH_RATE ?? 2000);
  const seconds = 5;
  const events = `${queue}-events`;
  await publisher.assertExchange(events, "topic", { durable: true });
  for (const withEvent of [false, true]) {
    await publisher.purgeQueue(queue);
    const before = brokerCpuMs();
    const sent = await publishAtRate(rate, seconds, 1, () => {
      publisher.sendToQueue(queue, body, { persistent: true, mandatory: true });
      if (withEvent) publisher.publish(events, "order.completed", body, { persistent: true });
    });
    await publisher.waitForConfirms();
    console.log(
      `trickle ${rate}/s${withEvent ? " + unroutable event" : ""}: ` +
        `broker ${(((brokerCpuMs() - before) * 1000) / sent).toFixed(1)} µs/order`,
    );
  }
  await publisher.deleteExchange(events);
}

async function latency(): Promise<void> {
  await publisher.purgeQueue(queue);
  const consumerConnection = await amqp.connect(url);
  const channel = await consumerConnection.createChannel();
  await channel.prefetch(64);
  const latencies: number[] = [];
  await channel.consume(queue, (message) => {
    if (!message) return;
    latencies.push(performance.now() - Number(message.properties.messageId));
    channel.ack(message);
  });
  const rate = 1000;
  const cpuBefore = brokerCpuMs();
  await publishAtRate(rate, 10, 2, () =>
    publisher.sendToQueue(queue, body, { persistent: true, messageId: String(performance.now()) }),
  );
  await publisher.waitForConfirms();
  await Bun.sleep(500);
  await consumerConnection.close();
  const at = (p: number) => percentile(latencies, p).toFixed(1);
  const brokerUsPerMessage = ((brokerCpuMs() - cpuBefore) * 1000) / latencies.length;
  console.log(
    `latency publish→deliver at ${rate}/s: p50 ${at(50)} ms, p99 ${at(99)} ms, max ${at(100)} ms; ` +
      `broker CPU ${brokerUsPerMessage.toFixed(0)} µs per message (published, delivered, acked one by one)`,
  );
}

async function queueTypes(): Promise<void> {
  for (const type of ["quorum", "classic", "quorum", "classic"]) {
    const name = `${queue}-${type}`;
    await publisher.assertQueue(name, {
      durable: true,
      arguments: type === "quorum" ? { "x-queue-type": "quorum" } : {},
    });
    const consumerConnection = await amqp.connect(url);
    const channel = await consumerConnection.createChannel();
    await channel.prefetch(64);
    const batcher = new AckBatcher(channel, () => {});
    const latencies: number[] = [];
    await channel.consume(name, (message) => {
      if (!message) return;
      batcher.delivered(message);
      latencies.push(performance.now() - Number(message.properties.messageId));
      batcher.ack(message);
    });

    // Full speed: 64 publishes in flight.
    const count = 30_000;
    const before = brokerCpuMs();
    const started = performance.now();
    await new Promise<void>((resolve) => {
      let sent = 0;
      let inFlight = 0;
      const pump = () => {
        while (inFlight < 64 && sent < count) {
          inFlight++;
          sent++;
          publisher.sendToQueue(name, body, { persistent: true, messageId: String(performance.now()) }, () => {
            inFlight--;
            if (sent === count && inFlight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    while (latencies.length < count) await Bun.sleep(10);
    const fullRate = Math.round((count / (performance.now() - started)) * 1000);
    const fullCpu = ((brokerCpuMs() - before) * 1000) / count;

    // 1,000 messages/s for 10 s.
    latencies.length = 0;
    const cpuBefore = brokerUserSystem();
    const sent = await publishAtRate(1000, 10, 1, () =>
      publisher.sendToQueue(name, body, { persistent: true, messageId: String(performance.now()) }),
    );
    await publisher.waitForConfirms();
    while (latencies.length < sent) await Bun.sleep(10);
    const cpuAfter = brokerUserSystem();
    const at = (p: number) => percentile(latencies, p).toFixed(1);
    const user = cpuAfter.user - cpuBefore.user;
    const system = cpuAfter.system - cpuBefore.system;
    const perMessage = (seconds: number) => ((seconds * 1e6) / sent).toFixed(0);
    console.log(
      `${type.padEnd(7)} 64 in flight: ${fullRate} msg/s, broker ${fullCpu.toFixed(0)} µs/message · ` +
        `1,000/s: broker ${perMessage(user + system)} µs/message ` +
        `(user ${perMessage(user)}, system ${perMessage(system)}), ` +
        `publish→deliver p50 ${at(50)} ms, p99 ${at(99)} ms`,
    );
    await consumerConnection.close();
    await publisher.deleteQueue(name);
  }
}

/**
 * Calls `send` at `rate` per second for `seconds` (catching up on every tick of `tickMs`);
 * returns how many it sent.
 */
async function publishAtRate(rate: number, seconds: number, tickMs: number, send: () => void): Promise<number> {
  const started = performance.now();
  let sent = 0;
  while (sent < rate * seconds) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) send();
    await Bun.sleep(tickMs);
  }
  return sent;
}
