/**
 * `POST /api/publish` and `POST /api/publish/batch`: the body checks of one publication and the
 * two handlers, written against `Request`/`Response` so that the app can call them from its
 * fast path (no router, no middleware) as well as from its hono routes.
 *
 * A batch is `{"messages": [{topic, type, payload, id?, priority?, correlation_id?}, …]}`; each
 * message gets the checks of `POST /api/publish` and is published in order, one after the other.
 * The answer (200) lists one result per message, in order: `{epoch, offset}` or
 * `{error, message}`; a bad message does not stop the others. Once the broker fails, the
 * messages after it are not attempted and are answered `UNAVAILABLE` as well.
 *
 * @example
 * ```ts
 * const handlers = createPublishHandlers(server, { maxBodyBytes: 1 << 20, batch: { maxMessages: 100, maxBytes: 4 << 20 } });
 * const response = await handlers.publish(request, "/api/publish");
 * ```
 *
 * @module
 */
import type { PublishBatchOptions } from "../options.ts";
import type { StreamTop } from "../broker/types.ts";
import type { Logger, ServerPublishOptions, WseServer } from "../types.ts";
import { asRequestError, callServer, jsonResponse, ServiceUnavailable } from "./responses.ts";
import {
  HttpInputError,
  readJson,
  readJsonObject,
  validateOptionalId,
  validateOptionalPriority,
  validateOptionalString,
  validateTopic,
  validateType,
} from "./validate.ts";

/** One checked publication. */
export interface PublicationRequest {
  topic: string;
  type: string;
  payload: Record<string, unknown>;
  options: ServerPublishOptions;
}

/** Checks one publication body (`{topic, type, payload, id?, priority?, correlation_id?|cid?}`); throws `HttpInputError`. */
export function publicationOf(body: Record<string, unknown>): PublicationRequest {
  const topic = validateTopic(body.topic);
  const type = validateType(body.type);
  const payload = body.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    throw new HttpInputError(400, "INVALID_PAYLOAD", "payload must be a JSON object");
  }
  const id = validateOptionalId(body.id);
  const priority = validateOptionalPriority(body.priority);
  const correlationId = validateOptionalString(body.correlation_id ?? body.cid, "correlation_id", 256);
  return { topic, type, payload: payload as Record<string, unknown>, options: { id, priority, correlationId } };
}

/** The `messages` array of a batch body; 400 when missing or empty, 413 beyond `maxMessages`. */
export function batchMessagesOf(body: unknown, maxMessages: number): unknown[] {
  const messages = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>).messages : undefined;
  if (!Array.isArray(messages)) {
    throw new HttpInputError(400, "INVALID_BODY", 'request body must be a JSON object with a "messages" array');
  }
  if (messages.length === 0) throw new HttpInputError(400, "INVALID_BODY", "messages must not be empty");
  if (messages.length > maxMessages) {
    throw new HttpInputError(413, "TOO_MANY_MESSAGES", `at most ${maxMessages} messages per batch, got ${messages.length}`);
  }
  return messages;
}

/** One entry of a batch answer. */
export type BatchResult = { epoch: string; offset: number } | { error: string; message: string };

/** Limits of the publish handlers. */
export interface PublishLimits {
  /** Largest `POST /api/publish` body, bytes. */
  maxBodyBytes: number;
  /** Limits of `POST /api/publish/batch`. */
  batch: PublishBatchOptions;
}

/** The two publish handlers (`path` is the request path, for error messages and logs). */
export interface PublishHandlers {
  /** `POST /api/publish` → `{epoch, offset}`. */
  publish(request: Request, path: string): Promise<Response>;
  /** `POST /api/publish/batch` → `{results, succeeded, failed}`. */
  batch(request: Request, path: string): Promise<Response>;
}

/** Builds the publish handlers for a server; errors thrown are answered by `errorResponse`. */
export function createPublishHandlers(server: WseServer, limits: PublishLimits, logger?: Logger): PublishHandlers {
  const publishOne = (p: PublicationRequest): Promise<StreamTop> => server.publish(p.topic, p.type, p.payload, p.options);
  return {
    async publish(request, path) {
      const publication = publicationOf(await readJsonObject(request, limits.maxBodyBytes));
      const position = await callServer(path, () => publishOne(publication));
      return jsonResponse(200, { epoch: position.epoch, offset: position.offset });
    },

    async batch(request, path) {
      const messages = batchMessagesOf(await readJson(request, limits.batch.maxBytes), limits.batch.maxMessages);
      const results: BatchResult[] = [];
      let failed = 0;
      let outage: string | null = null;
      for (const message of messages) {
        if (outage !== null) {
          results.push({ error: "UNAVAILABLE", message: `not attempted after an earlier failure: ${outage}` });
          failed++;
          continue;
        }
        try {
          if (typeof message !== "object" || message === null || Array.isArray(message)) {
            throw new HttpInputError(400, "INVALID_BODY", "each message must be a JSON object");
          }
          const position = await publishOne(publicationOf(message as Record<string, unknown>));
          results.push({ epoch: position.epoch, offset: position.offset });
        } catch (thrown) {
          failed++;
          const error = asRequestError(thrown, path);
          if (error instanceof ServiceUnavailable) {
            logger?.warn("http api unavailable", { path, error: error.reason });
            outage = error.message;
            results.push({ error: "UNAVAILABLE", message: error.message });
          } else results.push({ error: error.code, message: error.message });
        }
      }
      return jsonResponse(200, { results, succeeded: messages.length - failed, failed });
    },
  };
}
