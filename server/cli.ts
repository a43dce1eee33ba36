/**
 * Runtime-free pieces of the standalone server shared by the Bun CLI (`server/main.ts`) and the
 * Deno host (`server/deno.ts`): opening the configured broker (memory, or Redis through a
 * dynamic import of `server/broker/redis.ts`), the one-line startup summary and the graceful
 * shutdown on SIGTERM/SIGINT.
 *
 * @module
 */
import type { Broker } from "./broker/types.ts";
import type { CliConfig } from "./config.ts";
import { DEFAULTS } from "./options.ts";
import type { Logger, WseServer } from "./types.ts";

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

/** The shutdown signals. */
export type ShutdownSignal = "SIGTERM" | "SIGINT";

/**
 * Resolves with an exit code once SIGTERM/SIGINT stopped the server: `beforeStop` runs, the
 * server drains and stops (0), bounded by the drain timeout + 5 s (1); a second signal → 1 at
 * once. `listen` registers a signal handler with the runtime (`process.on`, `Deno.addSignalListener`).
 */
export function waitForShutdown(
  server: Pick<WseServer, "stop" | "stats">,
  logger: Logger,
  config: CliConfig,
  listen: (signal: ShutdownSignal, handler: () => void) => void,
  beforeStop: () => void = () => {},
): Promise<number> {
  return new Promise((done) => {
    let stopping = false;
    const onSignal = (signal: ShutdownSignal) => {
      if (stopping) {
        logger.warn("second signal, exiting now", { signal });
        done(1);
        return;
      }
      stopping = true;
      logger.info("shutting down", { signal, connections: server.stats().connections });
      beforeStop();
      const bound = (config.options.drain?.timeoutMs ?? DEFAULTS.drain.timeoutMs) + 5000;
      const timer = setTimeout(() => {
        logger.error("shutdown took too long, exiting", { bound_ms: bound });
        done(1);
      }, bound);
      server
        .stop()
        .then(() => {
          clearTimeout(timer);
          logger.info("stopped");
          done(0);
        })
        .catch((error) => {
          clearTimeout(timer);
          logger.error("error while stopping", { error });
          done(1);
        });
    };
    listen("SIGTERM", () => onSignal("SIGTERM"));
    listen("SIGINT", () => onSignal("SIGINT"));
  });
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
