/**
 * Runtime-free pieces of the standalone server shared by the Bun CLI (`server/main.ts`) and the
 * Deno host (`server/deno.ts`): opening the configured broker (memory, or Redis through a
 * dynamic import of `server/broker/redis.ts`) and the one-line startup summary.
 *
 * @module
 */
import type { Broker } from "./broker/types.ts";
import type { CliConfig } from "./config.ts";
import type { Logger } from "./types.ts";

/** The broker the CLI chose, with a name for the startup line. */
export interface OpenedBroker {
  /** The broker, or undefined for the server's default memory broker. */
  broker: Broker | undefined;
  /** "memory" or "redis". */
  kind: "memory" | "redis";
}

/**
 * Opens the Redis broker when `config.redisUrl` is set (waiting up to `waitMs` for it to become
 * healthy; the server starts degraded otherwise and the broker keeps reconnecting).
 */
export async function openBroker(config: CliConfig, logger: Logger, waitMs = 5000): Promise<OpenedBroker> {
  if (!config.redisUrl) return { broker: undefined, kind: "memory" };
  const { createRedisBroker } = await import("./broker/redis.ts");
  const history = config.options.history ?? {};
  const broker = createRedisBroker(config.redisUrl, {
    historySize: history.size,
    historyTtlMs: history.ttlMs,
    logger,
  });
  const healthy = await waitUntil(() => broker.healthy, waitMs);
  if (!healthy) logger.warn("redis broker not reachable yet; starting degraded", { redis: redactUrl(config.redisUrl) });
  return { broker, kind: "redis" };
}

/** Fields of the one-line startup summary (secrets are never included). */
export function startupSummary(
  config: CliConfig,
  listen: { url: string; hostname: string; port: number },
  brokerKind: string,
  runtime: string,
): Record<string, unknown> {
  const o = config.options;
  const jwt = o.jwt;
  const auth = jwt?.jwksUrl
    ? "jwks"
    : jwt?.publicKey
      ? `public-key${jwt.algorithms ? `:${jwt.algorithms.join(",")}` : ""}`
      : jwt?.secret
        ? (jwt.algorithms ?? ["HS256"]).join(",")
        : "none (development mode)";
  return {
    url: listen.url,
    http: `http://${listen.hostname.includes(":") ? `[${listen.hostname}]` : listen.hostname}:${listen.port}`,
    runtime,
    auth,
    api: o.apiKey ? "enabled" : "disabled (no API key)",
    broker: brokerKind,
    recovery: o.recovery ?? true,
    presence: o.presence ?? true,
    // Demo mode opens client publish on the demo's topics unless it was configured.
    client_publish: config.demo && o.clientPublish === undefined ? "demo.* topics" : (o.clientPublish ?? false),
    demo: config.demo,
    config_file: config.configPath ?? null,
  };
}

/** Hides the password of a URL for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
