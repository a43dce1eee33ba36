import { describe, expect, test } from "bun:test";
import { ConnectionPool, healthScore } from "./pool.ts";

const A = "ws://a/wse";
const B = "ws://b/wse";
const C = "ws://c/wse";

describe("connection pool", () => {
  test("health score: success rate, latency and failure streaks lower it", () => {
    expect(healthScore(1, 0, 0)).toBe(100);
    expect(healthScore(0.5, 0, 0)).toBe(50);
    expect(healthScore(1, 100, 0)).toBe(90);
    expect(healthScore(1, 10_000, 0)).toBe(70);
    expect(healthScore(1, 0, 2)).toBe(70);
    expect(healthScore(0, 1000, 9)).toBe(0);
  });

  test("scores follow recorded outcomes", () => {
    const pool = new ConnectionPool([A, B]);
    pool.recordSuccess(A, 20);
    pool.recordFailure(B);
    pool.recordSuccess(B);
    expect(pool.score(A)).toBe(98);
    expect(pool.score(B)).toBe(50);
    const stats = pool.getStats();
    expect(stats[0]).toMatchObject({ url: A, successes: 1, failures: 0, avgLatencyMs: 20, healthy: true });
    expect(stats[1]).toMatchObject({ url: B, successes: 1, failures: 1, consecutiveFailures: 0 });
  });

  test("round-robin cycles and skips unhealthy endpoints until their cooldown ends", () => {
    let now = 0;
    const pool = new ConnectionPool([A, B, C], { strategy: "round-robin", now: () => now });
    expect([pool.select(), pool.select(), pool.select(), pool.select()]).toEqual([A, B, C, A]);
    for (let i = 0; i < 3; i++) pool.recordFailure(B);
    expect(pool.isHealthy(B)).toBe(false);
    expect([pool.select(), pool.select(), pool.select()]).toEqual([C, A, C]);
    now += 30_000;
    expect(pool.isHealthy(B)).toBe(true);
    expect([pool.select(), pool.select()]).toEqual([A, B]);
  });

  test("least-connections picks the emptiest, ties broken by score", () => {
    const pool = new ConnectionPool([A, B, C], { strategy: "least-connections" });
    pool.acquire(A);
    pool.acquire(B);
    expect(pool.select()).toBe(C);
    pool.acquire(C);
    pool.recordFailure(A);
    expect(pool.select()).toBe(B);
    pool.release(B);
    pool.release(B);
    expect(pool.getStats()[1].active).toBe(0);
  });

  test("weighted-random follows the scores", () => {
    let r = 0;
    const pool = new ConnectionPool([A, B], { strategy: "weighted-random", random: () => r });
    pool.recordFailure(B);
    pool.recordSuccess(B); // B: 50, A: 100 → A owns [0, 2/3)
    r = 0.6;
    expect(pool.select()).toBe(A);
    r = 0.7;
    expect(pool.select()).toBe(B);
    let hitsA = 0;
    const random = new ConnectionPool([A, B]);
    random.recordFailure(B);
    random.recordSuccess(B);
    for (let i = 0; i < 3000; i++) if (random.select() === A) hitsA++;
    expect(hitsA).toBeGreaterThan(1700);
    expect(hitsA).toBeLessThan(2300);
  });

  test("failover moves away from the failed endpoint; all unhealthy still yields one", () => {
    const pool = new ConnectionPool([A, B], { strategy: "round-robin" });
    pool.recordFailure(A);
    expect(pool.failover(A)).toBe(B);
    for (let i = 0; i < 3; i++) {
      pool.recordFailure(A);
      pool.recordFailure(B);
    }
    expect([A, B]).toContain(pool.select());
    expect(new ConnectionPool([A]).failover(A)).toBe(A);
  });

  test("bad configuration is refused", () => {
    expect(() => new ConnectionPool([])).toThrow(RangeError);
    expect(() => new ConnectionPool([A, A])).toThrow(/duplicate/);
    expect(() => new ConnectionPool([A], { strategy: "random" as never })).toThrow(/loadBalancing/);
    expect(() => new ConnectionPool([A]).recordFailure(B)).toThrow(/unknown endpoint/);
  });
});
