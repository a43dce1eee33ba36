/**
 * Many topics, few subscribers each: C connections each subscribe to k of T topics, the
 * publisher round-robins over all topics. Stresses per-publication cost (stamp, history,
 * encode, topic lookup) rather than per-delivery cost.
 *
 * @module
 */
import { Fleet } from "../lib/fleet.ts";
import { measureThroughput, type Throughput } from "../lib/measure.ts";
import { type BenchContext, int, ratio, type Scenario, type ScenarioReport } from "../lib/scenario.ts";
import { type SystemName, startSystem, unavailableReason } from "../lib/systems.ts";
import { generatorProcesses } from "./fanout.ts";

const SYSTEMS: SystemName[] = ["bare-bun", "ours", "ours-http", "ours-http-batch", "upstream"];

function shape(ctx: BenchContext): { connections: number; topics: number; perConnection: number } {
  if (ctx.tiny) return { connections: 40, topics: 10, perConnection: 2 };
  return ctx.mode === "quick" ? { connections: 1000, topics: 100, perConnection: 2 } : { connections: 5000, topics: 1000, perConnection: 4 };
}

/** The many-topics scenario. */
export const scenario: Scenario = {
  name: "topics",
  title: "Many topics, few subscribers each",
  async run(ctx): Promise<ScenarioReport> {
    const { connections, topics: topicCount, perConnection } = shape(ctx);
    const topics = Array.from({ length: topicCount }, (_, i) => `t${i}`);
    const perTopic = (connections * perConnection) / topicCount;
    const results: Record<string, Throughput | { error: string } | { skipped: string }> = {};
    for (const name of SYSTEMS) {
      if (ctx.systems && !ctx.systems.includes(name)) continue;
      const reason = unavailableReason(name);
      if (reason) {
        results[name] = { skipped: reason };
        continue;
      }
      ctx.log(`  ${name}: ${connections} connections × ${perConnection} of ${topicCount} topics (${perTopic} subscribers per topic)`);
      const sys = await startSystem(name, { jwtSecret: ctx.secret });
      let fleet: Fleet | undefined;
      try {
        fleet = await Fleet.start({
          port: sys.port,
          connections,
          processes: generatorProcesses(connections),
          topics,
          topicsPerConnection: perConnection,
          jwtSecret: ctx.secret,
          maxSeconds: 300,
          onProgress: ctx.progress,
        });
        fleet.checkSetup(fleet.live + fleet.failures);
        results[name] = await measureThroughput(sys, fleet, {
          topics,
          runs: ctx.tiny ? 2 : ctx.mode === "quick" ? 3 : 5,
          size: 100,
          targetSeconds: ctx.tiny ? 0.2 : ctx.mode === "quick" ? 0.8 : 2,
          subscribersPerTopic: perTopic,
          log: ctx.log,
        });
      } catch (error) {
        results[name] = { error: (error as Error).message };
        ctx.log(`    failed: ${(error as Error).message}`);
      } finally {
        await fleet?.stop();
        await sys.stop();
      }
    }
    const median = (name: string) => (results[name] as Throughput | undefined)?.median ?? NaN;
    const rows = Object.entries(results).map(([name, r]) => {
      if ("skipped" in r) return [name, `skipped: ${r.skipped}`, "", "", "", ""];
      if ("error" in r) return [name, `error: ${r.error}`, "", "", "", ""];
      const i = r.integrity;
      return [name, int(r.median), int(r.publicationsPerSec), ratio(r.median / median("bare-bun")), r.serverUsPerDelivery.toFixed(2), `${i.lost}/${i.duplicates}/${i.missing}`];
    });
    return {
      name: "topics",
      title: this.title,
      tables: [
        {
          title: `${connections.toLocaleString("en-US")} connections, ${topicCount} topics, ${perConnection} topics per connection (${perTopic} subscribers per topic)`,
          columns: ["system", "deliveries/s", "publications/s", "vs bare Bun", "server µs CPU/delivery", "lost/dup/missing"],
          rows,
        },
      ],
      data: { connections, topics: topicCount, perConnection, subscribersPerTopic: perTopic, results },
      notes: [],
    };
  },
};
