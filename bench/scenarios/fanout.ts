/**
 * Fan-out: one publisher → N subscribers on one topic, ~100-byte JSON payloads, recovery on.
 * For every system (bare Bun ceiling, ours via the embedding API, ours via `POST /api/publish`,
 * upstream `wse-server`) and every N: maximum deliveries/s (median of several runs), then
 * publish→receive latency at 25/50/75 % of that system's own maximum at the latency N.
 *
 * @module
 */
import { Fleet } from "../lib/fleet.ts";
import { type LatencyPoint, measureLatency, measureThroughput, type Throughput } from "../lib/measure.ts";
import type { BenchContext, Scenario, ScenarioReport } from "../lib/scenario.ts";
import { int, ms, ratio } from "../lib/scenario.ts";
import { type SystemName, startSystem, unavailableReason } from "../lib/systems.ts";

/** Per system and subscriber count. */
export interface FanoutPoint {
  subscribers: number;
  setupMs: number;
  throughput?: Throughput;
  latency?: LatencyPoint[];
  error?: string;
  /** Set when a few connections could not be set up (the run went on without them). */
  setupNote?: string;
}

/** Systems in the order they run. */
export const FANOUT_SYSTEMS: SystemName[] = ["bare-bun", "ours", "ours-http", "ours-http-batch", "upstream"];

/** Subscriber counts per mode. */
export function subscriberCounts(ctx: BenchContext): number[] {
  if (ctx.tiny) return [10, 40];
  return ctx.mode === "quick" ? [100, 1000] : [100, 1000, 10_000];
}

/** Generator processes for N connections (one is enough for small N). */
export function generatorProcesses(connections: number): number {
  return connections <= 200 ? 1 : 2;
}

async function measureSystem(ctx: BenchContext, name: SystemName, counts: number[], latencyAt: number): Promise<FanoutPoint[]> {
  const points: FanoutPoint[] = [];
  const runs = ctx.tiny ? 2 : ctx.mode === "quick" ? 3 : 5;
  for (const subscribers of counts) {
    ctx.log(`  ${name}, ${subscribers.toLocaleString()} subscribers`);
    const sys = await startSystem(name, { jwtSecret: ctx.secret, host: subscribers > 20_000 ? "0.0.0.0" : "127.0.0.1" });
    let fleet: Fleet | undefined;
    const point: FanoutPoint = { subscribers, setupMs: 0 };
    try {
      fleet = await Fleet.start({
        port: sys.port,
        connections: subscribers,
        processes: generatorProcesses(subscribers),
        topics: ["fanout"],
        topicsPerConnection: 1,
        jwtSecret: ctx.secret,
        maxSeconds: 600,
        onProgress: ctx.progress,
      });
      point.setupMs = fleet.setupMs;
      point.setupNote = fleet.checkSetup(subscribers) ?? undefined;
      if (point.setupNote) ctx.log(`    note: ${point.setupNote}`);
      point.throughput = await measureThroughput(sys, fleet, {
        topics: ["fanout"],
        runs,
        size: 100,
        targetSeconds: ctx.tiny ? 0.2 : ctx.mode === "quick" ? 0.8 : 2,
        subscribersPerTopic: subscribers,
        log: ctx.log,
      });
      if (subscribers === latencyAt && name !== "ours-http") {
        point.latency = await measureLatency(sys, fleet, {
          topics: ["fanout"],
          subscribersPerTopic: subscribers,
          maxDeliveriesPerSec: point.throughput.median,
          loads: [0.25, 0.5, 0.75],
          seconds: ctx.tiny ? 0.5 : ctx.mode === "quick" ? 1.5 : 4,
          size: 100,
          log: ctx.log,
        });
      }
    } catch (error) {
      point.error = (error as Error).message;
      ctx.log(`    failed: ${point.error}`);
    } finally {
      await fleet?.stop();
      await sys.stop();
    }
    points.push(point);
  }
  return points;
}

/** The fan-out scenario. */
export const scenario: Scenario = {
  name: "fanout",
  title: "Fan-out: one publisher → N subscribers on one topic (~100 B JSON, recovery on)",
  async run(ctx): Promise<ScenarioReport> {
    const counts = subscriberCounts(ctx);
    const latencyAt = ctx.tiny ? 40 : 1000;
    const results: Record<string, FanoutPoint[] | { skipped: string }> = {};
    const notes: string[] = [];
    for (const name of FANOUT_SYSTEMS) {
      if (ctx.systems && !ctx.systems.includes(name)) continue;
      const reason = unavailableReason(name);
      if (reason) {
        results[name] = { skipped: reason };
        notes.push(`${name} skipped: ${reason}`);
        ctx.log(`  ${name} skipped: ${reason}`);
        continue;
      }
      results[name] = await measureSystem(ctx, name, counts, latencyAt);
    }
    const pointsOf = (name: string) => (Array.isArray(results[name]) ? (results[name] as FanoutPoint[]) : []);
    const rateAt = (name: string, n: number) => pointsOf(name).find((p) => p.subscribers === n)?.throughput?.median ?? NaN;
    const throughputRows: (string | number)[][] = [];
    for (const name of Object.keys(results)) {
      for (const point of pointsOf(name)) {
        const t = point.throughput;
        const i = t?.integrity;
        throughputRows.push([
          name,
          int(point.subscribers),
          t ? int(t.median) : `error: ${point.error ?? "?"}`,
          t ? t.runs.map((r) => int(r)).join(" / ") : "",
          ratio(rateAt(name, point.subscribers) / rateAt("bare-bun", point.subscribers)),
          t ? t.serverUsPerDelivery.toFixed(2) : "",
          t ? `${t.serverCores.toFixed(2)} / ${t.generatorCores.toFixed(2)}` : "",
          i ? `${i.lost}/${i.duplicates}/${i.missing}` : "",
        ]);
      }
    }
    const latencyRows: (string | number)[][] = [];
    for (const name of Object.keys(results)) {
      for (const point of pointsOf(name)) {
        for (const l of point.latency ?? []) {
          latencyRows.push([name, `${Math.round(l.load * 100)} %`, int(l.rate), int(l.deliveriesPerSec), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max)]);
        }
      }
    }
    for (const name of Object.keys(results)) {
      for (const point of pointsOf(name)) if (point.setupNote) notes.push(`${name} @${point.subscribers}: ${point.setupNote}`);
    }
    return {
      name: "fanout",
      title: this.title,
      tables: [
        {
          title: "Deliveries/s (median of runs), one topic",
          columns: ["system", "subscribers", "deliveries/s", "runs", "vs bare Bun", "server µs CPU/delivery", "cores server/gen", "lost/dup/missing"],
          rows: throughputRows,
        },
        {
          title: `Publish→receive latency at ${latencyAt.toLocaleString()} subscribers (load = share of the system's own max)`,
          columns: ["system", "load", "pub/s", "deliveries/s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
          rows: latencyRows,
        },
      ],
      data: { subscriberCounts: counts, latencyAt, results },
      notes,
    };
  },
};
