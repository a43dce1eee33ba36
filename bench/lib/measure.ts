/**
 * The measurements every fan-out style scenario shares: maximum deliveries/s (unthrottled
 * publishing, several runs, median), and publish→receive latency at fixed publication rates.
 * Both also collect loss, duplicates and gaps, which must be zero.
 *
 * @example
 * ```ts
 * import { measureThroughput } from "./measure.ts";
 * const t = await measureThroughput(sys, fleet, { topics: ["a"], runs: 3, size: 100, targetSeconds: 1, subscribersPerTopic: 100 });
 * t.median; // deliveries/s
 * ```
 * @module
 */
import type { Fleet, PhaseResult } from "./fleet.ts";
import { cpuPreciseMs } from "./procs.ts";
import type { RunningSystem } from "./systems.ts";

/** Loss accounting summed over runs. */
export interface Integrity {
  deliveries: number;
  lost: number;
  duplicates: number;
  missing: number;
  gaps: number;
  unstamped: number;
  undecodable: number;
  closes: number;
}

/** Result of `measureThroughput`. */
export interface Throughput {
  /** Median deliveries/s over the runs. */
  median: number;
  /** Every run's deliveries/s. */
  runs: number[];
  /** Publications per topic in each measured run. */
  perTopic: number;
  /** Publication rate (publications/s, all topics) at the median. */
  publicationsPerSec: number;
  /** Median server CPU time (all threads; publisher included when it runs in the server process) per delivery, µs. */
  serverUsPerDelivery: number;
  /** Median server CPU use during a run, in cores (1.0 = one core busy). */
  serverCores: number;
  /** Median generator CPU use during a run, in cores summed over the generator processes. */
  generatorCores: number;
  /** Median generator CPU time (all generator processes) per delivery, µs. */
  generatorUsPerDelivery: number;
  integrity: Integrity;
}

/** One latency level. */
export interface LatencyPoint {
  /** Fraction of the maximum (0.25, 0.5, 0.75). */
  load: number;
  /** Publications per second offered. */
  rate: number;
  /** Deliveries per second that rate means. */
  deliveriesPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  samples: number;
  integrity: Integrity;
}

/** What a throughput measurement needs. */
export interface ThroughputOptions {
  topics: string[];
  runs: number;
  /** Payload size in bytes. */
  size: number;
  /** Aim for runs of about this long. */
  targetSeconds: number;
  /** Subscribers per topic (deliveries per publication). */
  subscribersPerTopic: number;
  /** Upper bound of publications per topic in one run. */
  maxPerTopic?: number;
  /** Progress output. */
  log?: (line: string) => void;
}

/** An empty integrity record. */
export function emptyIntegrity(): Integrity {
  return { deliveries: 0, lost: 0, duplicates: 0, missing: 0, gaps: 0, unstamped: 0, undecodable: 0, closes: 0 };
}

/** Adds a phase's counters to an integrity record. */
export function addIntegrity(into: Integrity, phase: PhaseResult): void {
  into.deliveries += phase.deliveries;
  into.lost += phase.lost;
  into.duplicates += phase.duplicates;
  into.missing += phase.missing;
  into.gaps += phase.gaps;
  into.unstamped += phase.unstamped;
  into.undecodable += phase.undecodable;
  into.closes = Math.max(into.closes, phase.unexpectedCloses);
}

/** Median of a list (0 when empty). */
export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** CPU time of the server and of the generator fleet, ms. */
function cpuSnapshot(sys: RunningSystem, fleet: Fleet): { server: number; generators: number; at: number } {
  return {
    server: cpuPreciseMs(sys.server.pid),
    generators: fleet.procs.reduce((sum, p) => sum + cpuPreciseMs(p.pid), 0),
    at: performance.now(),
  };
}

async function publishPhase(
  sys: RunningSystem,
  fleet: Fleet,
  topics: string[],
  perTopic: number,
  rate: number,
  size: number,
  timeoutMs: number,
): Promise<{ phase: PhaseResult; startedAt: number; endedAt: number; serverCpuMs: number; generatorCpuMs: number; wallMs: number }> {
  let startedAt = 0;
  let endedAt = 0;
  const before = cpuSnapshot(sys, fleet);
  const phase = await fleet.phase(perTopic, timeoutMs, async () => {
    const mark = sys.publisher.mark;
    sys.publisher.send({ cmd: "publish", topics, count: perTopic, rate, size });
    const published = await sys.publisher.waitFor((e) => e.ev === "published" || e.ev === "error", timeoutMs + 5000, mark);
    if (published.ev === "error") throw new Error(`${sys.name} publisher: ${String(published.error)}`);
    startedAt = Number(published.startedAt);
    endedAt = Number(published.endedAt);
  });
  const after = cpuSnapshot(sys, fleet);
  return {
    phase,
    startedAt,
    endedAt,
    serverCpuMs: after.server - before.server,
    generatorCpuMs: after.generators - before.generators,
    wallMs: after.at - before.at,
  };
}

/**
 * Maximum deliveries/s: a warm-up run sizes the measured runs to last about `targetSeconds`;
 * each run publishes unthrottled and counts from the publish start to the last delivery.
 */
export async function measureThroughput(sys: RunningSystem, fleet: Fleet, options: ThroughputOptions): Promise<Throughput> {
  const integrity = emptyIntegrity();
  const log = options.log ?? (() => {});
  const perPublication = options.subscribersPerTopic;
  const warmPerTopic = Math.max(5, Math.ceil(20_000 / (perPublication * options.topics.length)));
  const warm = await publishPhase(sys, fleet, options.topics, warmPerTopic, 0, options.size, 30_000);
  addIntegrity(integrity, warm.phase);
  const warmSeconds = Math.max(0.001, (warm.phase.lastAt - warm.startedAt) / 1000);
  const warmRate = warm.phase.deliveries / warmSeconds;
  const wanted = (warmRate * options.targetSeconds) / (perPublication * options.topics.length);
  const perTopic = Math.max(5, Math.min(options.maxPerTopic ?? 5000, Math.round(wanted)));
  log(`    warm-up ${Math.round(warmRate).toLocaleString()} del/s → ${perTopic} publications per topic per run`);
  const runs: number[] = [];
  const publicationRates: number[] = [];
  const usPerDelivery: number[] = [];
  const serverCores: number[] = [];
  const generatorCores: number[] = [];
  const generatorUs: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const timeoutMs = Math.max(10_000, options.targetSeconds * 8000);
    const { phase, startedAt, serverCpuMs, generatorCpuMs, wallMs } = await publishPhase(sys, fleet, options.topics, perTopic, 0, options.size, timeoutMs);
    addIntegrity(integrity, phase);
    usPerDelivery.push((serverCpuMs * 1000) / Math.max(1, phase.deliveries));
    serverCores.push(serverCpuMs / wallMs);
    generatorCores.push(generatorCpuMs / wallMs);
    generatorUs.push((generatorCpuMs * 1000) / Math.max(1, phase.deliveries));
    const seconds = Math.max(0.001, (phase.lastAt - startedAt) / 1000);
    const rate = phase.deliveries / seconds;
    runs.push(rate);
    publicationRates.push((perTopic * options.topics.length) / seconds);
    log(
      `    run ${run + 1}/${options.runs}: ${Math.round(rate).toLocaleString()} del/s, server ${usPerDelivery[run]!.toFixed(2)} µs CPU/delivery, cores: server ${serverCores[run]!.toFixed(2)} generators ${generatorCores[run]!.toFixed(2)} (${generatorUs[run]!.toFixed(2)} µs CPU/delivery)` +
        (phase.lost || phase.duplicates || phase.missing ? ` (lost ${phase.lost}, dup ${phase.duplicates}, missing ${phase.missing})` : ""),
    );
  }
  return {
    median: median(runs),
    runs,
    perTopic,
    publicationsPerSec: median(publicationRates),
    serverUsPerDelivery: median(usPerDelivery),
    serverCores: median(serverCores),
    generatorCores: median(generatorCores),
    generatorUsPerDelivery: median(generatorUs),
    integrity,
  };
}

/**
 * Latency at fixed loads: for each fraction of `maxDeliveriesPerSec`, publishes at the matching
 * publication rate for about `seconds` and reports the percentiles of every delivery.
 */
export async function measureLatency(
  sys: RunningSystem,
  fleet: Fleet,
  options: { topics: string[]; subscribersPerTopic: number; maxDeliveriesPerSec: number; loads: number[]; seconds: number; size: number; log?: (line: string) => void },
): Promise<LatencyPoint[]> {
  const points: LatencyPoint[] = [];
  for (const load of options.loads) {
    const deliveriesPerSec = options.maxDeliveriesPerSec * load;
    const rate = Math.max(1, deliveriesPerSec / options.subscribersPerTopic);
    const perTopic = Math.max(3, Math.round((rate * options.seconds) / options.topics.length));
    const { phase } = await publishPhase(sys, fleet, options.topics, perTopic, rate, options.size, options.seconds * 4000 + 10_000);
    const integrity = emptyIntegrity();
    addIntegrity(integrity, phase);
    const point: LatencyPoint = {
      load,
      rate,
      deliveriesPerSec,
      p50: phase.latency.percentile(50),
      p90: phase.latency.percentile(90),
      p99: phase.latency.percentile(99),
      max: phase.latency.max,
      samples: phase.latency.count,
      integrity,
    };
    options.log?.(
      `    ${Math.round(load * 100)} % load (${Math.round(rate)} pub/s): p50 ${point.p50.toFixed(2)} ms, p99 ${point.p99.toFixed(2)} ms`,
    );
    points.push(point);
  }
  return points;
}
