/**
 * Scale-out through Redis: N subscribers on one node with the memory broker, on one node with
 * the Redis broker, and split over two nodes sharing one Redis (publisher → node A over HTTP,
 * half the subscribers on node B). Deliveries/s and loss across both nodes; offsets must stay
 * gapless on both nodes because the stream lives in Redis.
 *
 * Starts its own `redis-server` on a free loopback port (no persistence) and stops it after.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { Fleet } from "../lib/fleet.ts";
import { measureThroughput, type Throughput } from "../lib/measure.ts";
import { JsonProcess } from "../lib/procs.ts";
import { type BenchContext, int, ratio, type Scenario, type ScenarioReport } from "../lib/scenario.ts";
import { freePort, ROOT, type RunningSystem, startSystem, unavailableReason } from "../lib/systems.ts";

const REDIS = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find((p) => existsSync(p));

function redisMissing(): string | null {
  if (!REDIS) return "redis-server is not installed (scripts/setup-system.sh installs it)";
  if (!existsSync(`${ROOT}server/broker/redis.ts`)) return "the Redis broker (server/broker/redis.ts) has not landed";
  return unavailableReason("ours-http");
}

async function startRedis(): Promise<{ url: string; proc: JsonProcess }> {
  const port = await freePort();
  const proc = JsonProcess.spawn("redis", [REDIS!, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { cwd: ROOT });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.stderrTail.some((l) => l.includes("Ready to accept connections"))) return { url: `redis://127.0.0.1:${port}`, proc };
    if (proc.exitCode !== null) break;
    await Bun.sleep(50);
  }
  proc.kill();
  throw new Error(`redis-server did not start: ${proc.stderrTail.slice(-3).join(" | ")}`);
}

interface Row {
  setup: string;
  throughput?: Throughput;
  error?: string;
}

async function measureSetup(ctx: BenchContext, setup: string, nodes: RunningSystem[], subscribers: number): Promise<Row> {
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start({
      port: nodes[0]!.port,
      ports: nodes.map((n) => n.port),
      connections: subscribers,
      processes: Math.max(2, nodes.length),
      topics: ["scale"],
      topicsPerConnection: 1,
      jwtSecret: ctx.secret,
      maxSeconds: 300,
      onProgress: ctx.progress,
    });
    fleet.checkSetup(fleet.live + fleet.failures);
    const throughput = await measureThroughput(nodes[0]!, fleet, {
      topics: ["scale"],
      runs: ctx.tiny ? 2 : ctx.mode === "quick" ? 3 : 5,
      size: 100,
      targetSeconds: ctx.tiny ? 0.2 : ctx.mode === "quick" ? 0.8 : 2,
      subscribersPerTopic: subscribers,
      log: ctx.log,
    });
    return { setup, throughput };
  } catch (error) {
    ctx.log(`    failed: ${(error as Error).message}`);
    return { setup, error: (error as Error).message };
  } finally {
    await fleet?.stop();
  }
}

/** The Redis scale-out scenario. */
export const scenario: Scenario = {
  name: "redis",
  title: "Scale-out: two nodes through Redis vs one node",
  async run(ctx): Promise<ScenarioReport> {
    const missing = redisMissing();
    if (missing) return { name: "redis", title: this.title, skipped: missing, tables: [], data: {}, notes: [] };
    if (ctx.systems && !ctx.systems.includes("ours-http")) {
      return { name: "redis", title: this.title, skipped: "ours-http not selected", tables: [], data: {}, notes: [] };
    }
    const subscribers = ctx.tiny ? 20 : ctx.mode === "quick" ? 1000 : 5000;
    const rows: Row[] = [];
    const single = await startSystem("ours-http", { jwtSecret: ctx.secret });
    ctx.log(`  one node, memory broker, ${subscribers} subscribers`);
    try {
      rows.push(await measureSetup(ctx, "1 node, memory broker", [single], subscribers));
    } finally {
      await single.stop();
    }
    const redis = await startRedis();
    try {
      const one = await startSystem("ours-http", { jwtSecret: ctx.secret, redisUrl: redis.url });
      ctx.log(`  one node, Redis broker, ${subscribers} subscribers`);
      try {
        rows.push(await measureSetup(ctx, "1 node, Redis broker", [one], subscribers));
      } finally {
        await one.stop();
      }
      const a = await startSystem("ours-http", { jwtSecret: ctx.secret, redisUrl: redis.url });
      const b = await startSystem("ours-http", { jwtSecret: ctx.secret, redisUrl: redis.url });
      ctx.log(`  two nodes, Redis broker, ${subscribers / 2} + ${subscribers / 2} subscribers, publishing to node A`);
      try {
        rows.push(await measureSetup(ctx, "2 nodes, Redis broker", [a, b], subscribers));
      } finally {
        await a.stop();
        await b.stop();
      }
    } finally {
      await redis.proc.stop(2000);
    }
    const base = rows[0]?.throughput?.median ?? NaN;
    return {
      name: "redis",
      title: this.title,
      tables: [
        {
          title: `${subscribers.toLocaleString("en-US")} subscribers on one topic, HTTP publisher on node A`,
          columns: ["setup", "deliveries/s", "publications/s", "vs 1 node memory", "node A µs CPU/delivery", "lost/dup/missing"],
          rows: rows.map((r) => {
            const i = r.throughput?.integrity;
            return [
              r.setup,
              r.throughput ? int(r.throughput.median) : `error: ${r.error}`,
              r.throughput ? int(r.throughput.publicationsPerSec) : "",
              ratio((r.throughput?.median ?? NaN) / base),
              r.throughput ? r.throughput.serverUsPerDelivery.toFixed(2) : "",
              i ? `${i.lost}/${i.duplicates}/${i.missing}` : "",
            ];
          }),
        },
      ],
      data: { subscribers, rows },
      notes: ["all nodes and Redis share the same 2 cores with the generators, so two nodes cannot add capacity here; the figure shows the cost of the Redis hop and that nothing is lost across nodes"],
    };
  },
};
