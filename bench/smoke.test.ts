/**
 * Keeps the benchmark code honest: the load generator runs for a moment against our server
 * (embedding API and HTTP API) and the bare Bun baseline with 10 subscribers, and must see
 * every publication exactly once, in order, stamped. Not a performance test: no timing asserts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Fleet } from "./lib/fleet.ts";
import { killAll } from "./lib/procs.ts";
import { type SystemName, startSystem, unavailableReason } from "./lib/systems.ts";

const SECRET = "bench-smoke-secret-0123456789-0123456789";
const PUBLICATIONS = 40;

afterAll(() => killAll());

async function smoke(name: SystemName): Promise<void> {
  const sys = await startSystem(name, { jwtSecret: SECRET });
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start({
      port: sys.port,
      connections: 10,
      processes: 1,
      topics: ["smoke"],
      topicsPerConnection: 1,
      jwtSecret: SECRET,
      maxSeconds: 20,
      progressMs: 0,
    });
    expect(fleet.failures).toBe(0);
    expect(fleet.live).toBe(10);
    for (let run = 0; run < 2; run++) {
      const phase = await fleet.phase(PUBLICATIONS, 8000, () => {
        sys.publisher.send({ cmd: "publish", topics: ["smoke"], count: PUBLICATIONS, rate: run === 0 ? 0 : 200, size: 100 });
      });
      expect(phase.complete).toBe(true);
      expect(phase.deliveries).toBe(10 * PUBLICATIONS);
      expect({ lost: phase.lost, duplicates: phase.duplicates, missing: phase.missing, gaps: phase.gaps }).toEqual({
        lost: 0,
        duplicates: 0,
        missing: 0,
        gaps: 0,
      });
      expect(phase.unstamped).toBe(0);
      expect(phase.undecodable).toBe(0);
      expect(phase.latency.count).toBe(10 * PUBLICATIONS);
    }
  } finally {
    await fleet?.stop();
    await sys.stop();
  }
}

describe("bench load generator (smoke)", () => {
  test("bare Bun baseline: 10 subscribers, zero loss", () => smoke("bare-bun"), 30_000);
  const ours = unavailableReason("ours");
  test.skipIf(ours !== null)(`our server, embedding API: 10 subscribers, zero loss${ours ? ` (skipped: ${ours})` : ""}`, () => smoke("ours"), 30_000);
  const http = unavailableReason("ours-http");
  test.skipIf(http !== null)(`our server, HTTP API: 10 subscribers, zero loss${http ? ` (skipped: ${http})` : ""}`, () => smoke("ours-http"), 30_000);
});
