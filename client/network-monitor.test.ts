import { describe, expect, test } from "bun:test";
import { classifyQuality, NetworkMonitor } from "./network-monitor.ts";

describe("network monitor", () => {
  test("bands: excellent, good, fair, poor, each limit binding", () => {
    expect(classifyQuality(50, 25, 0.1)).toBe("excellent");
    expect(classifyQuality(51, 0, 0)).toBe("good");
    expect(classifyQuality(10, 26, 0)).toBe("good");
    expect(classifyQuality(10, 0, 0.5)).toBe("good");
    expect(classifyQuality(150, 50, 1)).toBe("good");
    expect(classifyQuality(151, 0, 0)).toBe("fair");
    expect(classifyQuality(10, 0, 2)).toBe("fair");
    expect(classifyQuality(300, 100, 3)).toBe("fair");
    expect(classifyQuality(301, 0, 0)).toBe("poor");
    expect(classifyQuality(10, 101, 0)).toBe("poor");
    expect(classifyQuality(10, 0, 3.1)).toBe("poor");
  });

  test("unknown before any sample; latency and jitter from round trips", () => {
    let now = 0;
    const m = new NetworkMonitor({ now: () => now });
    expect(m.quality).toBe("unknown");
    for (const [sent, rtt] of [[1000, 10], [2000, 30], [3000, 20]]) {
      m.recordPing(sent);
      now = sent + rtt;
      m.recordPong(sent, now);
    }
    const d = m.analyze();
    expect(d.latencyMs).toBe(20);
    expect(d.lastLatencyMs).toBe(20);
    expect(d.jitterMs).toBe(15);
    expect(d.packetLoss).toBe(0);
    expect(d.quality).toBe("excellent");
    expect(d.stability).toBe(Math.round((1 - 15 / 200) * 1000) / 1000);
  });

  test("pings without pong past the timeout count as loss and lower the band", () => {
    let now = 0;
    const m = new NetworkMonitor({ now: () => now, lossTimeout: 5000 });
    for (let i = 0; i < 10; i++) {
      const sent = i * 1000;
      now = sent;
      m.recordPing(sent);
      if (i !== 4) m.recordPong(sent, sent + 10);
    }
    now = 9_000; // the lost ping (sent at 4000) is only 5000 ms old → counts now
    const d = m.analyze();
    expect(d.packetLoss).toBe(10);
    expect(d.quality).toBe("poor");
    expect(d.stability).toBe(0.5);
    expect(d.suggestions.length).toBeGreaterThan(0);
  });

  test("a ping still in flight is not loss", () => {
    let now = 0;
    const m = new NetworkMonitor({ now: () => now });
    m.recordPing(0);
    m.recordPong(0, 5);
    m.recordPing(100);
    now = 200;
    expect(m.analyze().packetLoss).toBe(0);
  });

  test("window keeps the last samples; reset forgets", () => {
    const m = new NetworkMonitor({ windowSize: 3 });
    for (const x of [1000, 1000, 10, 10, 10]) m.recordLatency(x);
    expect(m.analyze().latencyMs).toBe(10);
    m.recordLatency(Number.NaN);
    m.recordLatency(-5);
    expect(m.analyze().samples).toBe(3);
    m.reset();
    expect(m.quality).toBe("unknown");
  });
});
