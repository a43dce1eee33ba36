import { describe, expect, test } from "bun:test";
import { checkTopic, resolveOptions } from "./options.ts";

describe("client options", () => {
  test("defaults follow the Python client and the issue", () => {
    const o = resolveOptions("ws://h/wse", {});
    expect(o.endpoints).toEqual(["ws://h/wse"]);
    expect(o.heartbeatInterval).toBe(15_000);
    expect(o.idleTimeout).toBe(40_000);
    expect(o.queueSize).toBe(1000);
    expect(o.connectTimeout).toBe(10_000);
    expect(o.format).toBe("json");
    expect(o.encryption).toBe(false);
    expect(o.zstd).toBe(true);
    expect(o.loadBalancing).toBe("weighted-random");
    expect(o.offlineQueue).toBe(true);
    expect(o.reconnect).toMatchObject({ mode: "exponential", maxAttempts: Infinity, enabled: true });
  });

  test("url and endpoints merge without duplicates", () => {
    expect(resolveOptions("ws://a/wse", { endpoints: ["ws://b/wse", "ws://a/wse"] }).endpoints).toEqual(["ws://b/wse", "ws://a/wse"]);
    expect(resolveOptions("ws://a/wse", { endpoints: ["ws://b/wse"] }).endpoints).toEqual(["ws://a/wse", "ws://b/wse"]);
    expect(resolveOptions(undefined, { endpoints: ["ws://b/wse"] }).endpoints).toEqual(["ws://b/wse"]);
  });

  test("bad values are refused with clear errors", () => {
    expect(() => resolveOptions(undefined, {})).toThrow(/url or endpoints/);
    expect(() => resolveOptions("ws://h", { format: "xml" as never })).toThrow(/format/);
    expect(() => resolveOptions("ws://h", { queueSize: 0 })).toThrow(/queueSize/);
    expect(() => resolveOptions("ws://h", { heartbeatInterval: -1 })).toThrow(/heartbeatInterval/);
    expect(() => resolveOptions("ws://h", { token: 5 as never })).toThrow(/token/);
    expect(() => resolveOptions("ws://h", { topics: ["ok", ""] })).toThrow(TypeError);
    expect(() => resolveOptions("ws://h", { reconnect: { baseDelay: -5 } })).toThrow(/baseDelay/);
  });

  test("topic names: 1–256 bytes, no control characters", () => {
    expect(checkTopic("prices.eu")).toBe("prices.eu");
    expect(checkTopic("é".repeat(128))).toHaveLength(128);
    expect(() => checkTopic("é".repeat(129))).toThrow(/256 bytes/);
    expect(() => checkTopic("a\nb")).toThrow(/control/);
    expect(() => checkTopic(42)).toThrow(TypeError);
  });
});
