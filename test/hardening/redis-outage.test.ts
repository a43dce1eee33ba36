/**
 * CI size of the Redis outage scenario (`redis-outage.ts`): two nodes on one Redis, 10 real
 * clients on each; Redis frozen for 7 s, then killed for 3 s and restarted empty.
 */
import { afterAll, expect, test } from "bun:test";
import { CI_REDIS_OUTAGE, runRedisOutage, startRedisPair } from "./redis-outage.ts";

const pair = await startRedisPair();
afterAll(() => pair.stop());

test("Redis hung and Redis restarted: /health 503 then 200, publishes fail cleanly, streams stay honest", async () => {
  const result = await runRedisOutage(pair.redis, pair.nodes, CI_REDIS_OUTAGE);
  expect(result.problems).toEqual([]);
  expect(result.duplicates).toBe(0);
  expect(result.gaps).toBe(0);
  expect(result.maxDiscontinuitiesPerClient).toBeLessThanOrEqual(1);
  expect(result.caughtUp).toBe(true);
  expect(result.pass).toBe(true);
}, 90_000);
