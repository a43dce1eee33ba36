/**
 * CI size of the slow-consumer scenario (`slow-consumer.ts`): 10 stalled readers among 40
 * healthy subscribers of a topic carrying ~6 MiB.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_SLOW_CONSUMER, runSlowConsumers, SLOW_CONSUMER_SERVER } from "./slow-consumer.ts";

const target = await startHardTarget({ ...SLOW_CONSUMER_SERVER });
afterAll(() => target.stop());

test("slow consumers: every stalled reader cut as a slow consumer (4008), every healthy one whole, memory bounded", async () => {
  const result = await runSlowConsumers(target, CI_SLOW_CONSUMER);
  expect(result.healthyWhole).toBe(CI_SLOW_CONSUMER.healthy);
  expect(result.slowConsumerCloses).toBe(CI_SLOW_CONSUMER.stalled);
  expect((result.stalledCloseCodes["4008"] ?? 0) + (result.stalledCloseCodes.ended ?? 0)).toBe(CI_SLOW_CONSUMER.stalled);
  expect(result.health.failures).toBe(0);
  expect(result.rssMiB.after).toBeLessThanOrEqual(result.rssMiB.limit);
  expect(result.pass).toBe(true);
}, 90_000);
