import { describe, expect, test } from "bun:test";
import type { ServerMetrics } from "../types.ts";
import { escapeLabel, formatMetrics } from "./metrics.ts";

const base: ServerMetrics = {
  connections: 3,
  connectionsTotal: 10,
  messagesIn: 100,
  messagesOut: 250,
  bytesIn: 4096,
  bytesOut: 8192,
  publications: 40,
  authFailures: 2,
  rateLimited: 5,
  rateLimitCloses: 1,
  slowConsumerCloses: 1,
  recoveryHits: 7,
  recoveryMisses: 2,
  invalidMessages: 4,
  decryptionFailures: 0,
  topics: { a: 1, b: 5, 'we"ird\\topic\n': 2 },
  topicCount: 3,
  brokerHealthy: true,
  draining: false,
  uptimeSeconds: 12.5,
};

function series(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), line.slice(at + 1));
  }
  return out;
}

describe("formatMetrics", () => {
  test("every counter and gauge, with HELP and TYPE", () => {
    const text = formatMetrics(base);
    const s = series(text);
    expect(s.get("wse_connections")).toBe("3");
    expect(s.get("wse_messages_in_total")).toBe("100");
    expect(s.get("wse_messages_out_total")).toBe("250");
    expect(s.get("wse_bytes_in_total")).toBe("4096");
    expect(s.get("wse_bytes_out_total")).toBe("8192");
    expect(s.get("wse_auth_failures_total")).toBe("2");
    expect(s.get("wse_rate_limited_total")).toBe("5");
    expect(s.get("wse_slow_consumer_closes_total")).toBe("1");
    expect(s.get("wse_recovery_hits_total")).toBe("7");
    expect(s.get("wse_recovery_misses_total")).toBe("2");
    expect(s.get("wse_broker_healthy")).toBe("1");
    expect(s.get("wse_draining")).toBe("0");
    expect(s.get("wse_uptime_seconds")).toBe("12.5");
    expect(text).toContain("# TYPE wse_connections gauge");
    expect(text).toContain("# TYPE wse_messages_in_total counter");
    expect(text.endsWith("\n")).toBe(true);
    // Every sample line belongs to a declared family.
    const declared = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    for (const name of s.keys()) expect(declared.has(name.split("{")[0])).toBe(true);
  });

  test("per-topic series escaped and capped, largest first", () => {
    const s = series(formatMetrics(base, { topicLimit: 2 }));
    expect(s.get('wse_topic_subscribers{topic="b"}')).toBe("5");
    expect(s.get('wse_topic_subscribers{topic="we\\"ird\\\\topic\\n"}')).toBe("2");
    expect(s.has('wse_topic_subscribers{topic="a"}')).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`t${i}`, i]));
    const text = formatMetrics({ ...base, topics: many });
    expect(text.match(/^wse_topic_subscribers\{/gm)?.length).toBe(100);
    expect(text).toContain('wse_topic_subscribers{topic="t499"} 499');
  });

  test("escapeLabel", () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });
});
