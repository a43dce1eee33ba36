/**
 * CI size of the frozen-client scenario (`frozen-client.ts`): a child process with 5 real
 * clients is SIGSTOPped for 6 s (idle timeout 2.5 s) while 200 publications/s keep coming.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_FROZEN_CLIENT, FROZEN_CLIENT_SERVER, runFrozenClient } from "./frozen-client.ts";

const target = await startHardTarget({ ...FROZEN_CLIENT_SERVER });
afterAll(() => target.stop());

test("frozen client process: released by the server while stopped, recovers everything once resumed", async () => {
  const result = await runFrozenClient(target, CI_FROZEN_CLIENT);
  expect(result.released).toBe(true);
  expect(result.reconnected).toBe(CI_FROZEN_CLIENT.clients);
  expect(result.problems).toEqual([]);
  expect(result.duplicates).toBe(0);
  expect(result.gaps).toBe(0);
  expect(result.discontinuities).toEqual({});
  expect(result.bystander.problems).toEqual([]);
  expect(result.pass).toBe(true);
}, 60_000);
