/**
 * Fan-out with features switched — deliveries/s and latency (50 % load in quick mode, 25/50/75 %
 * in full) — recovery off (no history, no stamp work), compression
 * (1 KB payloads over the 1,024-byte threshold → `C:` zlib frames), and end-to-end encryption
 * (every subscriber negotiates a key; every delivery is its own `E:` frame). Same N, same
 * generator, every system that supports the variant.
 *
 * @module
 */
import { Fleet } from "../lib/fleet.ts";
import { type LatencyPoint, measureLatency, measureThroughput, type Throughput } from "../lib/measure.ts";
import { ms } from "../lib/scenario.ts";
import { type BenchContext, int, ratio, type Scenario, type ScenarioReport } from "../lib/scenario.ts";
import { type SystemName, startSystem, unavailableReason } from "../lib/systems.ts";
import { generatorProcesses } from "./fanout.ts";

interface Variant {
  name: string;
  systems: SystemName[];
  size: number;
  recovery: boolean;
  encryption: boolean;
}

const VARIANTS: Variant[] = [
  { name: "recovery off", systems: ["ours", "upstream"], size: 100, recovery: false, encryption: false },
  { name: "zlib, 1 KB payload", systems: ["bare-bun", "ours", "upstream"], size: 1024, recovery: true, encryption: false },
  { name: "E2E encryption", systems: ["bare-bun", "ours", "upstream"], size: 100, recovery: true, encryption: true },
];

/** One measured row. */
export interface VariantRow {
  variant: string;
  system: string;
  median: number;
  throughput?: Throughput;
  latency?: LatencyPoint[];
  error?: string;
}

async function measure(ctx: BenchContext, variant: Variant, name: SystemName, subscribers: number): Promise<VariantRow> {
  const sys = await startSystem(name, { jwtSecret: ctx.secret, recovery: variant.recovery });
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start({
      port: sys.port,
      connections: subscribers,
      processes: generatorProcesses(subscribers),
      topics: ["variant"],
      topicsPerConnection: 1,
      encryption: variant.encryption,
      jwtSecret: ctx.secret,
      maxSeconds: 300,
      onProgress: ctx.progress,
    });
    fleet.checkSetup(fleet.live + fleet.failures);
    const throughput = await measureThroughput(sys, fleet, {
      topics: ["variant"],
      runs: ctx.tiny ? 2 : ctx.mode === "quick" ? 3 : 5,
      size: variant.size,
      targetSeconds: ctx.tiny ? 0.2 : ctx.mode === "quick" ? 0.8 : 2,
      subscribersPerTopic: subscribers,
      log: ctx.log,
    });
    const latency = await measureLatency(sys, fleet, {
      topics: ["variant"],
      subscribersPerTopic: subscribers,
      maxDeliveriesPerSec: throughput.median,
      loads: ctx.mode === "full" ? [0.25, 0.5, 0.75] : [0.5],
      seconds: ctx.tiny ? 0.5 : ctx.mode === "quick" ? 1.5 : 4,
      size: variant.size,
      log: ctx.log,
    });
    return { variant: variant.name, system: name, median: throughput.median, throughput, latency };
  } catch (error) {
    ctx.log(`    failed: ${(error as Error).message}`);
    return { variant: variant.name, system: name, median: NaN, error: (error as Error).message };
  } finally {
    await fleet?.stop();
    await sys.stop();
  }
}

/** The feature-variants scenario. */
export const scenario: Scenario = {
  name: "variants",
  title: "Fan-out with recovery off, compression on, encryption on",
  async run(ctx): Promise<ScenarioReport> {
    const subscribers = ctx.tiny ? 20 : 1000;
    const rows: VariantRow[] = [];
    const notes = [
      "upstream wse-server 2.5.1 sends topic broadcasts as uncompressed text frames whatever their size (only send_event compresses), so its zlib row is really 1 KB uncompressed frames",
    ];
    for (const variant of VARIANTS) {
      for (const name of variant.systems) {
        if (ctx.systems && !ctx.systems.includes(name)) continue;
        const reason = unavailableReason(name);
        if (reason) {
          notes.push(`${variant.name}/${name} skipped: ${reason}`);
          continue;
        }
        ctx.log(`  ${variant.name}: ${name}, ${subscribers} subscribers`);
        rows.push(await measure(ctx, variant, name, subscribers));
      }
    }
    const medianOf = (variant: string, system: string) => rows.find((r) => r.variant === variant && r.system === system)?.median ?? NaN;
    return {
      name: "variants",
      title: this.title,
      tables: [
        {
          title: `Deliveries/s at ${subscribers.toLocaleString("en-US")} subscribers, one topic`,
          columns: ["variant", "system", "deliveries/s", "vs bare Bun", "vs upstream", "server µs CPU/delivery", "lost/dup/missing"],
          rows: rows.map((r) => {
            const i = r.throughput?.integrity;
            return [
              r.variant,
              r.system,
              r.throughput ? int(r.median) : `error: ${r.error}`,
              ratio(r.median / medianOf(r.variant, "bare-bun")),
              ratio(r.median / medianOf(r.variant, "upstream")),
              r.throughput ? r.throughput.serverUsPerDelivery.toFixed(2) : "",
              i ? `${i.lost}/${i.duplicates}/${i.missing}` : "",
            ];
          }),
        },
        {
          title: `Latency at ${subscribers.toLocaleString("en-US")} subscribers (load = share of the system's own max in that variant)`,
          columns: ["variant", "system", "load", "pub/s", "p50 ms", "p99 ms", "max ms"],
          rows: rows.flatMap((r) =>
            (r.latency ?? []).map((l) => [r.variant, r.system, `${Math.round(l.load * 100)} %`, int(l.rate), ms(l.p50), ms(l.p99), ms(l.max)]),
          ),
        },
      ],
      data: { subscribers, rows },
      notes,
    };
  },
};
