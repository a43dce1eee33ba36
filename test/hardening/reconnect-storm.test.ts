/**
 * CI size of the reconnect storm (`reconnect-storm.ts`): 2,000 real clients kicked at once;
 * all come back and resubscribe, `/health` keeps answering, and the jitter spreads the herd.
 */
import { afterAll, expect, test } from "bun:test";
import { startHardTarget } from "./kit.ts";
import { CI_RECONNECT_STORM, MAX_BUSIEST_WINDOW_SHARE, runReconnectStorm } from "./reconnect-storm.ts";

const target = await startHardTarget({});
afterAll(() => target.stop());

test("reconnect storm: 2,000 clients kicked at once come back spread out while /health answers", async () => {
  const result = await runReconnectStorm(target, CI_RECONNECT_STORM);
  expect(result.kicked).toBe(CI_RECONNECT_STORM.clients);
  expect(result.allBack).toBe(true);
  expect(result.allSubscribed).toBe(true);
  expect(result.health.failures).toBe(0);
  expect(result.reconnectMs.p90 - result.reconnectMs.p10).toBeGreaterThanOrEqual(0.4 * CI_RECONNECT_STORM.baseDelay);
  expect(result.busiest100msShare).toBeLessThanOrEqual(MAX_BUSIEST_WINDOW_SHARE);
  expect(result.pass).toBe(true);
}, 150_000);
