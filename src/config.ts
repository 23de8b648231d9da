import { z } from "zod";

const booleanFlag = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => value === "true" || value === "1" || value === "yes");

/**
 * A connection URL the client library can use. The messages never repeat the value: it may
 * hold a password.
 */
function connectionUrl(protocols: readonly string[], expected: string, pathRule?: { test: RegExp; message: string }) {
  return z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      // Also a port outside 0-65535 or a space in the host.
      ctx.addIssue({ code: "custom", message: `${expected} (it does not parse: check the host and port)` });
      return;
    }
    if (!protocols.includes(url.protocol)) ctx.addIssue({ code: "custom", message: expected });
    else if (pathRule && !pathRule.test.test(url.pathname)) ctx.addIssue({ code: "custom", message: pathRule.message });
  });
}

const amqpUrl = connectionUrl(["amqp:", "amqps:"], "must be an amqp:// or amqps:// URL");

/** One broker URL, or a cluster's nodes comma-separated: every connection fails over among them. */
const amqpUrls = z.string().superRefine((value, ctx) => {
  for (const [index, part] of value.split(",").entries()) {
    const checked = amqpUrl.safeParse(part.trim());
    for (const issue of checked.error?.issues ?? [])
      ctx.addIssue({
        code: "custom",
        message: value.includes(",") ? `URL ${index + 1}: ${issue.message}` : issue.message,
      });
  }
});

// ioredis reads the path as the database number.
const redisUrl = connectionUrl(["redis:", "rediss:"], "must be a redis:// or rediss:// URL", {
  test: /^(\/\d*)?$/,
  message: "its path must be a database number (redis://host:6379/0)",
});

/** `host:port,host:port…`: the sentinels, or a Redis Cluster's nodes. */
const hostPortList = z.string().regex(/^[\w.-]+:\d{1,5}(,[\w.-]+:\d{1,5})*$/, "must be host:port,host:port…");

export const DEFAULT_ORDER_TIMEOUT_MS = 900_000;

const NOT_A_PORT = "must be a port number (0-65535; 0 picks a free one)";

const milliseconds = z.coerce.number().int().min(1).max(2_147_483_647);

/** The environment table of the README, parsed in one place. */
const envSchema = z.object({
  PORT: z
    .string()
    .regex(/^\d{1,5}$/, NOT_A_PORT)
    .transform(Number)
    .pipe(z.number().max(65_535, NOT_A_PORT))
    .default(3000),
  AMQP_URL: amqpUrls.optional(),
  REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  /** Reach Redis through Sentinel: `host:port,host:port…`; REDIS_URL then only gives db and password. */
  REDIS_SENTINELS: hostPortList.optional(),
  REDIS_SENTINEL_MASTER: z.string().min(1).max(200).default("mymaster"),
  /** Reach a Redis Cluster through these nodes: `host:port,host:port…`; REDIS_URL then only gives the password. */
  REDIS_CLUSTER_NODES: hostPortList.optional(),
  /** Prepended to every Redis key, so several deployments can share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .max(64)
    .regex(/^[\w:.-]*$/, "letters, digits, _ : . - only")
    .default(""),
  ROLE: z.enum(["api", "worker", "all"]).default("all"),
  RASCAL_CONFIG: z.string().min(1).optional(),
  HANDLERS_DIR: z.string().min(1).default("./handlers"),
  /** Interface the HTTP server binds: all of them by default, `127.0.0.1` for local only. */
  HOST: z
    .string()
    .regex(/^[\w.:-]+$/, "must be an IP address or host name (0.0.0.0 binds every interface)")
    .default("0.0.0.0"),
  // Long enough that guessing it over the network is hopeless; the value is never echoed.
  ADMIN_TOKEN: z.string().min(16, "must be at least 16 characters").optional(),
  CALLBACK_SECRET: z.string().min(1).optional(),
  CALLBACK_ALLOW_PRIVATE: booleanFlag.default(false),
  SHUTDOWN_TIMEOUT_MS: milliseconds.default(10_000),
  ORDER_TIMEOUT_MS: milliseconds.default(DEFAULT_ORDER_TIMEOUT_MS),
  /** Dead letters older than this are removed (30 days). */
  DEAD_LETTER_RETENTION_MS: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(2_592_000_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type Config = z.infer<typeof envSchema> & {
  /** AMQP_URL, or the default when the variable is unset (rascal.json's own connection then wins). */
  amqpUrl: string;
  /** Whether AMQP_URL was given explicitly and therefore overrides rascal.json's connections. */
  amqpUrlOverride: boolean;
};

export const DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * Parses the environment once. Empty strings count as unset so that `VAR=` in a compose file
 * falls back to the default instead of failing validation.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = envSchema
    .refine((config) => !(config.REDIS_SENTINELS && config.REDIS_CLUSTER_NODES), {
      path: ["REDIS_CLUSTER_NODES"],
      message: "set either REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both",
    })
    .refine((config) => !config.REDIS_CLUSTER_NODES || /^\/?0?$/.test(new URL(config.REDIS_URL).pathname), {
      path: ["REDIS_URL"],
      message: "Redis Cluster has only database 0: leave the database out of REDIS_URL",
    })
    .safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join("\n")}`);
  }
  return {
    ...parsed.data,
    amqpUrl: parsed.data.AMQP_URL ?? DEFAULT_AMQP_URL,
    amqpUrlOverride: parsed.data.AMQP_URL !== undefined,
  };
}
