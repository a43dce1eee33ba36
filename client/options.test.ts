import { describe, expect, test } from "bun:test";
import { topicProblem } from "../server/engine/topics.ts";
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
    expect(() => checkTopic("a\u0085b")).toThrow(/control/);
    expect(() => checkTopic("\u009f")).toThrow(/control/);
    expect(checkTopic("\u00a0")).toBe("\u00a0");
  });

  test("topic names: the client refuses exactly what the server refuses", () => {
    const candidates: unknown[] = [undefined, null, 42, ["a"], "", "a".repeat(256), "a".repeat(257), "é".repeat(128), "é".repeat(129)];
    candidates.push("\ud800", "x\udc00".repeat(85), "x\udc00".repeat(86), "😀".repeat(64), "😀".repeat(64) + "a");
    for (let code = 0; code <= 0x2ff; code++) candidates.push(`t${String.fromCharCode(code)}`);
    for (const code of [0x2028, 0x2029, 0xfeff, 0xfffe, 0xffff]) candidates.push(String.fromCharCode(code));
    const disagreements = candidates.filter((topic) => {
      let clientRejects = false;
      try {
        checkTopic(topic);
      } catch {
        clientRejects = true;
      }
      return clientRejects !== (topicProblem(topic) !== null);
    });
    expect(disagreements).toEqual([]);
  });
});
