/**
 * CI size of the server-restart scenario (`server-restart.ts`): 30 real clients, the server
 * SIGKILLed and restarted twice under 200 publications/s.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_SERVER_RESTART, runServerRestart } from "./server-restart.ts";

const target = await startHardTarget({});
afterAll(() => target.stop());

test("server SIGKILL + restart: clients return, one announced discontinuity per restart, no duplicate", async () => {
  const result = await runServerRestart(target, CI_SERVER_RESTART);
  expect(result.problems).toEqual([]);
  expect(result.duplicates).toBe(0);
  expect(result.gaps).toBe(0);
  expect(result.clientsWithWrongDiscontinuityCount).toBe(0);
  expect(result.epochs).toBe(CI_SERVER_RESTART.restarts + 1);
  expect(result.caughtUp).toBe(true);
  expect(result.pass).toBe(true);
}, 90_000);
