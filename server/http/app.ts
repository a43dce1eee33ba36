/**
 * The HTTP side of the server: `GET /health`, `GET /metrics` (Prometheus text) and the `/api/*`
 * routes for backends (publish, publish batch, broadcast, disconnect, presence, history).
 *
 * `POST /api/publish` and `POST /api/publish/batch` take a fast path: an exact match of method
 * and path, the API key check, one body read, one `JSON.parse` and the server's `publish`, with
 * no router or middleware in between. Every other request (and any other spelling of those
 * paths) goes to a hono app, whose routes answer the publish paths with the same handlers.
 *
 * `/api/*` requires `Authorization: Bearer <api key>` (compared in constant time). With no API
 * key configured the API is disabled: every `/api/*` request gets 403 with a message saying
 * how to enable it (binding to loopback is no protection behind a reverse proxy, so there is no
 * loopback exception). `/metrics` requires `Authorization: Bearer <metrics token>` when a
 * metrics token is configured (a separate secret, so a Prometheus config never holds a key that
 * can publish), and is open otherwise.
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
import { Hono } from "hono";
import type { ResolvedOptions } from "../options.ts";
import type { Logger, WseServer } from "../types.ts";
import { bearerKey, createKeyCheck } from "./api-key.ts";
import { formatMetrics, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import { createPublishHandlers } from "./publish.ts";
import { callServer, errorResponse, jsonResponse } from "./responses.ts";
import {
  HttpInputError,
  parseEpochParam,
  parseIntegerParam,
  readJsonObject,
  validateOptionalCloseCode,
  validateOptionalString,
  validateTopic,
  validateType,
} from "./validate.ts";

/** Extra settings of the HTTP app (all optional). */
export interface HttpAppExtras {
  /** Per-topic series in `/metrics` (default: `options.metricsTopicLimit`). */
  metricsTopicLimit?: number;
  /** Logs API failures that are the server's fault (5xx). */
  logger?: Logger;
}

/** The parts of `ResolvedOptions` the HTTP app reads. */
export type HttpAppOptions = Pick<
  ResolvedOptions,
  "apiKey" | "maxMessageSize" | "history" | "metricsToken" | "metricsTopicLimit" | "publishBatch"
>;

/** The HTTP app: `fetch` for the host, `request` for tests and tools (relative paths allowed). */
export interface HttpApp {
  /** Answers one request. */
  fetch(request: Request): Response | Promise<Response>;
  /** Answers a request built from a path (`"/health"`) or URL and `init`, like hono's `app.request`. */
  request(input: string | Request, init?: RequestInit): Promise<Response>;
}

/** Message of the 403 answer when no API key is configured. */
export const API_DISABLED_MESSAGE =
  "the HTTP API is disabled because no API key is configured; set WSE_API_KEY (or --api-key, or the apiKey option)";

/** Path of the publish route. */
export const PUBLISH_PATH = "/api/publish";
/** Path of the batch publish route. */
export const PUBLISH_BATCH_PATH = "/api/publish/batch";

/** Builds the HTTP app for a server (`/health`, `/metrics`, `/api/*`). */
export function createHttpApp(server: WseServer, options: HttpAppOptions, extras: HttpAppExtras = {}): HttpApp {
  const logger = extras.logger;
  const maxBody = options.maxMessageSize;
  const historyCap = Math.max(1, options.history.maxRecovery);
  const topicLimit = extras.metricsTopicLimit ?? options.metricsTopicLimit;
  const apiKeyMatches = options.apiKey ? createKeyCheck(options.apiKey) : null;
  const metricsTokenMatches = options.metricsToken ? createKeyCheck(options.metricsToken) : null;
  const handlers = createPublishHandlers(server, { maxBodyBytes: maxBody, batch: options.publishBatch }, logger);

  /** The refusal of an `/api/*` request without the right key, or null when it may pass. */
  const refuseApi = (request: Request): Response | null => {
    if (!apiKeyMatches) return jsonResponse(403, { error: "API_DISABLED", message: API_DISABLED_MESSAGE });
    if (apiKeyMatches(bearerKey(request.headers.get("authorization")))) return null;
    return jsonResponse(
      401,
      { error: "UNAUTHORIZED", message: "missing or wrong API key (Authorization: Bearer <key>)" },
      { "www-authenticate": 'Bearer realm="wse"' },
    );
  };

  const app = new Hono();
  app.onError((error, c) => errorResponse(error, c.req.method, c.req.path, logger));
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
    if (metricsTokenMatches && !metricsTokenMatches(bearerKey(c.req.header("authorization")))) {
      return jsonResponse(
        401,
        { error: "UNAUTHORIZED", message: "missing or wrong metrics token (Authorization: Bearer <token>)" },
        { "www-authenticate": 'Bearer realm="wse-metrics"' },
      );
    }
    const text = formatMetrics(server.metrics(), { topicLimit });
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });

  app.use("/api/*", async (c, next) => {
    const refused = refuseApi(c.req.raw);
    if (refused) return refused;
    await next();
  });

  app.post(PUBLISH_PATH, (c) => handlers.publish(c.req.raw, c.req.path));
  app.post(PUBLISH_BATCH_PATH, (c) => handlers.batch(c.req.raw, c.req.path));

  app.post("/api/broadcast", async (c) => {
    const body = await readJsonObject(c.req.raw, maxBody);
    const type = validateType(body.type);
    requirePayload(body);
    await callServer(c.req.path, () => server.broadcast(type, body.payload));
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
    const closed = await callServer(c.req.path, () => server.disconnect({ userId, connectionId, code, reason }));
    return c.json({ disconnected: closed });
  });

  app.get("/api/presence/:topic{.+}", async (c) => {
    const topic = validateTopic(c.req.param("topic"));
    const summary = await callServer(c.req.path, () => server.presence(topic));
    return c.json(summary);
  });

  app.get("/api/history/:topic{.+}", async (c) => {
    const topic = validateTopic(c.req.param("topic"));
    const epoch = parseEpochParam(c.req.query("epoch"));
    const since = parseIntegerParam(c.req.query("since"), "since", -1);
    const limit = Math.min(parseIntegerParam(c.req.query("limit"), "limit", 1) ?? historyCap, historyCap);
    const answer = await callServer(c.req.path, () => server.history(topic, { epoch, since, limit }));
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

  /** The publish routes without the router: exact method and path, key check, handler. */
  const fastPublish = (request: Request, path: string, handle: (request: Request, path: string) => Promise<Response>) => {
    const refused = refuseApi(request);
    if (refused) return refused;
    return handle(request, path).catch((error: unknown) => errorResponse(error, "POST", path, logger));
  };

  const fetch = (request: Request): Response | Promise<Response> => {
    if (request.method === "POST") {
      const path = pathOf(request.url);
      if (path === PUBLISH_PATH) return fastPublish(request, path, handlers.publish);
      if (path === PUBLISH_BATCH_PATH) return fastPublish(request, path, handlers.batch);
    }
    return app.fetch(request);
  };

  return {
    fetch,
    request(input, init) {
      const request =
        input instanceof Request
          ? init ? new Request(input, init) : input
          : new Request(/^https?:\/\//.test(input) ? input : `http://localhost${input}`, init);
      return Promise.resolve(fetch(request));
    },
  };
}

/** The path of an absolute URL as the router sees it: from the first `/` after the host up to `?`. */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

function requirePayload(body: Record<string, unknown>): void {
  const payload = body.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new HttpInputError(400, "INVALID_PAYLOAD", "payload must be a JSON object");
  }
}
