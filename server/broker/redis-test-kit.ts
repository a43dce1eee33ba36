/**
 * Test helpers for the Redis broker tests: brokers on a shared throwaway redis-server, an event
 * recorder, and a bounded wait.
 *
 * @module
 */
import type { BrokerEvent, PublicationData } from "./types.ts";
import { createRedisBroker, type RedisBroker, type RedisBrokerOptions } from "./redis.ts";

/** A logger that keeps lines instead of printing them. */
export function quietLogger(lines: string[] = []): NonNullable<RedisBrokerOptions["logger"]> {
  return {
    info: (message) => void lines.push(message),
    warn: (message) => void lines.push(message),
  };
}

/** A broker with its recorded events. */
export interface RecordingBroker {
  broker: RedisBroker;
  events: BrokerEvent[];
}

/** Creates `count` healthy brokers on `url` under one fresh prefix, each recording its events. */
export async function recordingBrokers(
  url: string,
  count: number,
  options: RedisBrokerOptions = {},
): Promise<RecordingBroker[]> {
  const prefix = options.prefix ?? `t${crypto.randomUUID().slice(0, 8)}:`;
  const result: RecordingBroker[] = [];
  for (let i = 0; i < count; i++) {
    const broker = createRedisBroker(url, { logger: quietLogger(), ...options, prefix });
    const events: BrokerEvent[] = [];
    broker.setHandler((event) => events.push(event));
    await broker.waitUntilHealthy(5_000);
    result.push({ broker, events });
  }
  return result;
}

/** Polls `check` every 10 ms until it is true; throws after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Publication data with a fresh id. */
export function data(type: string, payload: unknown, id: string = crypto.randomUUID()): PublicationData {
  return { type, payload, id, ts: new Date().toISOString() };
}

/** The publications among recorded events, for one topic. */
export function publicationsOf(events: BrokerEvent[], topic: string) {
  return events.flatMap((event) =>
    event.kind === "publication" && event.publication.topic === topic ? [event.publication] : []
  );
}
