/**
 * CI size of the frame fuzzer (`fuzz.ts`): every hostile input class once, 30 seeded mutation
 * rounds, 20 topic-churn connections. `WSE_HARDENING_SEED=<n>` replays a run.
 */
import { afterAll, expect, test } from "bun:test";
import { CI_FUZZ, runFrameFuzz } from "./fuzz.ts";
import { report, seedFromEnv, startHardTarget } from "./kit.ts";

const target = await startHardTarget({ clientPublish: true });
afterAll(() => target.stop());

test("frame fuzzer: documented errors only, no stall, bystander gapless, /health up, memory back near baseline", async () => {
  const seed = seedFromEnv("frame-fuzz");
  const result = await runFrameFuzz(target, { ...CI_FUZZ, seed });
  report("frame-fuzz", result.pass, { seed, cases: result.cases, failed: result.failed, bystander: result.bystander, health: result.health, rss: result.rss, samePid: result.samePid, errorCodes: result.errorCodes, closeCodes: result.closeCodes, notes: result.notes });
  if (!result.pass) console.warn(`[hardening] server log tail:\n${target.logs()}`);
  expect(result.failed).toEqual([]);
  expect(result.bystander.problems).toEqual([]);
  expect(result.health.failures).toBe(0);
  expect(result.samePid).toBe(true);
  expect(result.pass).toBe(true);
}, 180_000);
