/**
 * CI size of the recovery storm (`recovery-storm.ts`): 40 clients, 8 kicks at 1.2 s intervals,
 * ~1,000 publications/s → zero gaps, zero duplicates, zero discontinuities for every client.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_RECOVERY_STORM, RECOVERY_STORM_SERVER, runRecoveryStorm } from "./recovery-storm.ts";

const target = await startHardTarget({ ...RECOVERY_STORM_SERVER });
afterAll(() => target.stop());

test("recovery storm: every client sees every offset once, in order, across every kick", async () => {
  const result = await runRecoveryStorm(target, CI_RECOVERY_STORM);
  expect(result.problems).toEqual([]);
  expect(result.duplicates).toBe(0);
  expect(result.gaps).toBe(0);
  expect(result.discontinuities).toEqual({});
  expect(result.incompleteClients).toBe(0);
  expect(result.caughtUp).toBe(true);
  expect(result.disconnectedPerKick.every((n) => n > 0)).toBe(true);
  expect(result.pass).toBe(true);
}, 120_000);
