/**
 * The 60-second soak (`soak.ts`; the 10-minute one is `bun scripts/soak.ts`): 1,000 churning
 * connections on 50 topics, 200 publications/s, 60 s measured after a 20 s warm-up → zero
 * errors and flat server memory.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_SOAK, CI_SOAK_SERVER, runSoak } from "./soak.ts";

const target = await startHardTarget({ ...CI_SOAK_SERVER });
afterAll(() => target.stop());

test("soak, 60 s: 1,000 churning connections, no errors, flat memory", async () => {
  const result = await runSoak(target, CI_SOAK);
  expect(result.problems).toEqual([]);
  expect(result.errors).toEqual({ connectFailures: 0, unexpectedCloses: 0, errorFrames: 0, gaps: 0, duplicates: 0, missedRecoveries: 0, publishFailures: 0, healthFailures: 0, badPathSurprises: 0 });
  expect(result.rss.flat).toBe(true);
  expect(result.pass).toBe(true);
}, 180_000);
