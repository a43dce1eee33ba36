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
