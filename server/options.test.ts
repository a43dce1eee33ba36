import { expect, test } from "bun:test";
import { DEFAULTS, resolveOptions } from "./options.ts";

test("defaults", () => {
  const o = resolveOptions();
  expect(o.port).toBe(5007);
  expect(o.path).toBe("/wse");
  expect(o.recovery).toBe(true);
  expect(o.history.maxRecovery).toBe(500);
  expect(o.maxMessageSize).toBe(1024 * 1024);
  expect(o.compressionThreshold).toBe(1024);
  expect(o.pingIntervalMs).toBe(25_000);
  expect(o.idleTimeoutMs).toBe(60_000);
  expect(o.clientPublish).toBe(false);
  expect(o.maxTopicsPerConnection).toBe(128);
  expect(o.presenceMaxData).toBe(4096);
  expect(o.drain.closeCode).toBe(1012);
  expect(o.serverVersion).toBe(DEFAULTS.serverVersion);
});

test("partial nested options merge with defaults", () => {
  const o = resolveOptions({ history: { size: 10 }, rateLimit: { capacity: 5 } });
  expect(o.history).toEqual({ ...DEFAULTS.history, size: 10 });
  expect(o.rateLimit.capacity).toBe(5);
  expect(o.rateLimit.refillPerSecond).toBe(DEFAULTS.rateLimit.refillPerSecond);
});

test("bad values throw a TypeError naming the option", () => {
  expect(() => resolveOptions({ port: 70000 })).toThrow("port");
  expect(() => resolveOptions({ path: "wse" })).toThrow("path");
  expect(() => resolveOptions({ pingIntervalMs: 0 })).toThrow("pingIntervalMs");
  expect(() => resolveOptions({ history: { size: -1 } })).toThrow("history.size");
  expect(() => resolveOptions({ maxMessageSize: 1.5 })).toThrow("maxMessageSize");
});

test("HTTP options: metrics token, metrics topic limit, batch limits", () => {
  const defaults = resolveOptions();
  expect(defaults.metricsToken).toBeUndefined();
  expect(defaults.metricsTopicLimit).toBe(100);
  expect(defaults.publishBatch).toEqual({ maxMessages: 100, maxBytes: 4 * 1024 * 1024 });
  const o = resolveOptions({ metricsToken: "t", metricsTopicLimit: 0, publishBatch: { maxMessages: 7 } });
  expect(o.metricsToken).toBe("t");
  expect(o.metricsTopicLimit).toBe(0);
  expect(o.publishBatch).toEqual({ maxMessages: 7, maxBytes: DEFAULTS.publishBatch.maxBytes });
  expect(() => resolveOptions({ metricsTopicLimit: -1 })).toThrow("metricsTopicLimit");
  expect(() => resolveOptions({ publishBatch: { maxMessages: 0 } })).toThrow("publishBatch.maxMessages");
  expect(() => resolveOptions({ publishBatch: { maxBytes: 2.5 } })).toThrow("publishBatch.maxBytes");
});
