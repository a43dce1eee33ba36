/**
 * The HTTP side of the server, a hono app: `GET /health`, `GET /metrics` (Prometheus text) and
 * the `/api/*` routes for backends (publish, broadcast, disconnect, presence, history).
 *
 * `/api/*` requires `Authorization: Bearer <api key>` (compared in constant time). With no API
 * key configured the API is disabled: every `/api/*` request gets 403 with a message saying
 * how to enable it (binding to loopback is no protection behind a reverse proxy, so there is no
 * loopback exception).
 *
 * Errors are JSON: `{"error": "<CODE>", "message": "…"}`.
 *
 * @example
 * ```ts
 * const app = createHttpApp(server, server.options);
 * const res = await app.request("/health");
 * ```
 *
 * @module
 */
import { Hono, type Context } from "hono";
import type { ResolvedOptions } from "../options.ts";
import type { Logger, WseServer } from "../types.ts";
import { bearerKey, constantTimeEquals } from "./api-key.ts";
import { formatMetrics, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import {
  HttpInputError,
  parseEpochParam,
  parseIntegerParam,
  readJsonObject,
  validateOptionalCloseCode,
  validateOptionalId,
  validateOptionalPriority,
  validateOptionalString,
  validateTopic,
  validateType,
} from "./validate.ts";

/** Extra settings of the HTTP app (all optional). */
export interface HttpAppExtras {
  /** Per-topic series in `/metrics` (default 100). */
  metricsTopicLimit?: number;
  /** Logs API failures that are the server's fault (5xx). */
  logger?: Logger;
}

/** The parts of `ResolvedOptions` the HTTP app reads. */
export type HttpAppOptions = Pick<ResolvedOptions, "apiKey" | "maxMessageSize" | "history">;

/** Message of the 403 answer when no API key is configured. */
export const API_DISABLED_MESSAGE =
  "the HTTP API is disabled because no API key is configured; set WSE_API_KEY (or --api-key, or the apiKey option)";

/** Builds the hono app for a server (`/health`, `/metrics`, `/api/*`). */
export function createHttpApp(server: WseServer, options: HttpAppOptions, extras: HttpAppExtras = {}): Hono {
  const app = new Hono();
  const maxBody = options.maxMessageSize;
  const historyCap = Math.max(1, options.history.maxRecovery);

  app.onError((error, c) => {
    if (error instanceof HttpInputError) return c.json({ error: error.code, message: error.message }, error.status);
    if (error instanceof ServiceUnavailable) {
      extras.logger?.warn("http api unavailable", { path: c.req.path, error: error.reason });
      return c.json({ error: "UNAVAILABLE", message: error.message }, 503);
    }
    extras.logger?.error("http api error", { path: c.req.path, method: c.req.method, error });
    return c.json({ error: "INTERNAL", message: "internal server error" }, 500);
  });
  app.notFound((c) => c.json({ error: "NOT_FOUND", message: `no route for ${c.req.method} ${c.req.path}` }, 404));

  app.get("/health", (c) => {
    const status = server.draining ? "draining" : server.healthy ? "ok" : "degraded";
    const stats = server.stats();
    return c.json(
      { status, connections: stats.connections, uptime_seconds: stats.uptimeSeconds },
      status === "ok" ? 200 : 503,
    );
  });

  app.get("/metrics", (c) => {
    const text = formatMetrics(server.metrics(), { topicLimit: extras.metricsTopicLimit ?? 100 });
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });

  app.use("/api/*", async (c, next) => {
    const configured = options.apiKey;
    if (!configured) return c.json({ error: "API_DISABLED", message: API_DISABLED_MESSAGE }, 403);
    const presented = bearerKey(c.req.header("authorization"));
    if (presented === null || !(await constantTimeEquals(presented, configured))) {
      c.header("www-authenticate", 'Bearer realm="wse"');
      return c.json({ error: "UNAUTHORIZED", message: "missing or wrong API key (Authorization: Bearer <key>)" }, 401);
    }
    await next();
  });

  app.post("/api/publish", async (c) => {
    const body = await readJsonObject(c.req.raw, maxBody);
    const topic = validateTopic(body.topic);
    const type = validateType(body.type);
    requirePayload(body);
    const id = validateOptionalId(body.id);
    const priority = validateOptionalPriority(body.priority);
    const correlationId = validateOptionalString(body.correlation_id ?? body.cid, "correlation_id", 256);
    const position = await unavailableOnThrow(c, () =>
      server.publish(topic, type, body.payload, { id, priority, correlationId }),
    );
    return c.json({ epoch: position.epoch, offset: position.offset });
  });

  app.post("/api/broadcast", async (c) => {
    const body = await readJsonObject(c.req.raw, maxBody);
    const type = validateType(body.type);
    requirePayload(body);
    await unavailableOnThrow(c, () => server.broadcast(type, body.payload));
    return c.json({ ok: true });
  });

  app.post("/api/disconnect", async (c) => {
    const body = await readJsonObject(c.req.raw, maxBody);
    const userId = validateOptionalString(body.user_id, "user_id", 1024);
    const connectionId = validateOptionalString(body.connection_id, "connection_id", 1024);
    if (!userId && !connectionId) {
      throw new HttpInputError(400, "INVALID_BODY", "give user_id or connection_id");
    }
    const code = validateOptionalCloseCode(body.code);
    const reason = validateOptionalString(body.reason, "reason", 120);
    const closed = await unavailableOnThrow(c, () => server.disconnect({ userId, connectionId, code, reason }));
    return c.json({ disconnected: closed });
  });

  app.get("/api/presence/:topic{.+}", async (c) => {
    const topic = validateTopic(c.req.param("topic"));
    const summary = await unavailableOnThrow(c, () => server.presence(topic));
    return c.json(summary);
  });

  app.get("/api/history/:topic{.+}", async (c) => {
    const topic = validateTopic(c.req.param("topic"));
    const epoch = parseEpochParam(c.req.query("epoch"));
    const since = parseIntegerParam(c.req.query("since"), "since", -1);
    const limit = Math.min(parseIntegerParam(c.req.query("limit"), "limit", 1) ?? historyCap, historyCap);
    const answer = await unavailableOnThrow(c, () => server.history(topic, { epoch, since, limit }));
    return c.json({
      topic,
      epoch: answer.top.epoch,
      offset: answer.top.offset,
      epoch_matches: answer.epochMatches,
      truncated: answer.truncated,
      publications: answer.publications.map((p) => ({
        epoch: p.epoch,
        offset: p.offset,
        type: p.data.type,
        payload: p.data.payload,
        id: p.data.id,
        ts: p.data.ts,
      })),
    });
  });

  return app;
}

function requirePayload(body: Record<string, unknown>): void {
  const payload = body.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new HttpInputError(400, "INVALID_PAYLOAD", "payload must be a JSON object");
  }
}

/**
 * The server rejects bad input with `TypeError` (its documented contract) → 400; any other
 * failure of the call (broker down, …) becomes 503 with a logged cause.
 */
async function unavailableOnThrow<T>(c: Context, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof HttpInputError) throw error;
    if (error instanceof TypeError) throw new HttpInputError(400, "INVALID_REQUEST", error.message);
    throw new ServiceUnavailable(error, c.req.path);
  }
}

class ServiceUnavailable extends Error {
  readonly reason: unknown;
  constructor(reason: unknown, path: string) {
    super(`${path}: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "ServiceUnavailable";
    this.reason = reason;
  }
}
