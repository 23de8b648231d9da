import { expect, test } from "bun:test";
import { join } from "node:path";
import { redactEnvironmentSecrets } from "../src/log";
import { captureLogs } from "./helpers/log-capture";

test("credentials in a log line or its bindings are printed as [redacted], the logged object untouched", () => {
  const { log, lines } = captureLogs();
  const fields = {
    password: "p1",
    url: "amqp://u:p2@host",
    headers: { authorization: "Bearer p3", accept: "json" },
    connection: { url: "redis://:p4@h" },
    orderId: "o-1",
  };
  log.child({ authorization: "Bearer p5" }).info(fields, "with secrets");
  log.info({ orderId: "o-2", headers: { accept: "json" } }, "without secrets");

  const [secret, plain] = lines();
  expect(secret).toMatchObject({
    password: "[redacted]",
    url: "[redacted]",
    authorization: "[redacted]",
    headers: { authorization: "[redacted]", accept: "json" },
    connection: { url: "[redacted]" },
    orderId: "o-1",
  });
  expect(JSON.stringify(secret)).not.toMatch(/p[1-5]/);
  expect(fields.headers.authorization).toBe("Bearer p3");
  expect(fields.password).toBe("p1");
  expect(plain).toMatchObject({ orderId: "o-2", headers: { accept: "json" } });
});

test("stdout lines leave at the end of their turn, without waiting for more, and none is lost on exit", async () => {
  const child = Bun.spawn(["bun", join(import.meta.dir, "fixtures/log-lines.ts")], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  let text = "";
  const decoder = new TextDecoder();
  // The first line arrives while the process sits idle, waiting for stdin.
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  expect(JSON.parse(text.trim())).toMatchObject({ msg: "first", step: 1 });
  child.stdin.write("go\n");
  child.stdin.end();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value);
  }
  expect(await child.exited).toBe(0);
  const steps = text
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { step: number }).step);
  expect(steps).toEqual([1, 2, 3]);
});

test("an unshaped error printout loses the environment's passwords and tokens, plain and percent-encoded", () => {
  const env = {
    AMQP_URL: "amqp://app:p%40ss-amqp@broker:5672/orders",
    REDIS_URL: "redis://:redis-pw@cache:99999/8",
    ADMIN_TOKEN: "admin-token-redacted",
    CALLBACK_SECRET: "cb-secret",
  };
  const printout =
    'Error: connect failed { input: "redis://:redis-pw@cache:99999/8", ' +
    'amqp: "p%40ss-amqp" / "p@ss-amqp", token: admin-token-redacted, key: cb-secret }';
  const redacted = redactEnvironmentSecrets(printout, env);
  expect(redacted).not.toMatch(/redis-pw|p%40ss-amqp|p@ss-amqp|admin-token-redacted|cb-secret/);
  expect(redacted).toContain('input: "redis://:***@cache:99999/8"');
  expect(redactEnvironmentSecrets("nothing to hide", {})).toBe("nothing to hide");
});
