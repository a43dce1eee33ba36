/**
 * A fleet of generator processes (`bench/generator.ts`) against one server: connections are
 * split evenly across processes, phases and heartbeats are started on all of them at once,
 * and their reports are merged (counters summed, latency histograms merged, the delivery
 * window taken from the earliest first and the latest last delivery).
 *
 * @example
 * ```ts
 * import { Fleet } from "./fleet.ts";
 * const fleet = await Fleet.start({ port, connections: 100, processes: 2, topics: ["a"], topicsPerConnection: 1, jwtSecret });
 * const phase = await fleet.phase(200, 10_000, () => publisher.send({ cmd: "publish", topics: ["a"], count: 200 }));
 * await fleet.stop();
 * ```
 * @module
 */
import type { GeneratorSpec } from "../generator.ts";
import { Histogram } from "./histogram.ts";
import { type ChildEvent, JsonProcess, withFdLimit } from "./procs.ts";
import { ROOT } from "./systems.ts";

/**
 * The generator script the fleet runs: `bench/generator.ts`, or `$WSE_BENCH_GENERATOR` (another
 * build of it, for A/B comparisons of generator versions).
 */
export const GENERATOR = process.env.WSE_BENCH_GENERATOR || `${ROOT}bench/generator.ts`;

/** Fleet settings: a generator spec minus the per-process fields. */
export interface FleetOptions extends Omit<GeneratorSpec, "name" | "connections" | "firstIndex" | "maxSeconds" | "hosts"> {
  /** Total connections across all processes. */
  connections: number;
  /** Generator processes (default 1; at most one per 1 connection). */
  processes?: number;
  /** Index of the first connection (user ids are bench-<index>; default 0). */
  indexBase?: number;
  /** Ports per process (process i connects to ports[i % length]); overrides `port`. */
  ports?: number[];
  /** Destination hosts (default 127.0.0.1). */
  hosts?: string[];
  /** Hard deadline per process, s (default 120). */
  maxSeconds?: number;
  /** Called with progress lines (one per process per second). */
  onProgress?: (line: string) => void;
  /** Deadline for all connections to be set up, ms (default 60 000). */
  readyTimeoutMs?: number;
  /** Open-file limit per generator process (`ulimit -n`, up to the hard limit). */
  fdLimit?: number;
  /** Extra arguments for the Bun runtime of each generator (e.g. `--cpu-prof`). */
  runtimeArgs?: string[];
}

/** Merged result of one phase. */
export interface PhaseResult {
  /** Every connection got every expected publication before the timeout. */
  complete: boolean;
  /** Expected publications never received. */
  missing: number;
  deliveries: number;
  duplicates: number;
  lost: number;
  gaps: number;
  unstamped: number;
  undecodable: number;
  errors: number;
  /** Publications the generators had to read with `JSON.parse` (unusual shape; 0 for every system here). */
  parsed: number;
  /** Earliest first delivery across processes (epoch ms). */
  firstAt: number;
  /** Latest last delivery (epoch ms). */
  lastAt: number;
  /** Latency of every delivery in the phase. */
  latency: Histogram;
  /** Connections closed by the server so far. */
  unexpectedCloses: number;
  /** TCP reads the generators handled during the phase (deliveries ÷ reads = messages per read). */
  reads: number;
  closeCodes: Record<string, number>;
}

/** The running fleet. */
export class Fleet {
  #phaseId = 0;

  private constructor(
    /** Generator processes. */
    readonly procs: JsonProcess[],
    /** Connections that completed the handshake (and subscribe). */
    readonly live: number,
    /** Connections that failed to set up. */
    readonly failures: number,
    /** Wall time until every process reported ready (includes process start-up), ms. */
    readonly setupMs: number,
    /** Longest time any process spent opening its connections, ms (connection-rate basis). */
    readonly connectMs: number,
    /** First setup error, if any (also when a retry then succeeded). */
    readonly firstError: string | undefined,
    /** Connection attempts that failed and were retried (up to 3 retries per connection). */
    readonly retries: number,
  ) {}

  /** Spawns the processes and waits until every connection is set up. */
  static async start(options: FleetOptions): Promise<Fleet> {
    const count = Math.max(1, Math.min(options.processes ?? 1, options.connections));
    const procs: JsonProcess[] = [];
    const started = performance.now();
    let first = options.indexBase ?? 0;
    for (let i = 0; i < count; i++) {
      const share = Math.floor(options.connections / count) + (i < options.connections % count ? 1 : 0);
      const { onProgress: _onProgress, processes: _processes, readyTimeoutMs: _ready, fdLimit, ports, indexBase: _base, runtimeArgs, ...rest } = options;
      const spec: GeneratorSpec = {
        ...rest,
        port: ports ? ports[i % ports.length]! : options.port,
        name: `gen${i}`,
        hosts: options.hosts ?? ["127.0.0.1"],
        connections: share,
        firstIndex: first,
        maxSeconds: options.maxSeconds ?? 120,
      };
      first += share;
      const proc = JsonProcess.spawn(`gen${i}`, withFdLimit([process.execPath, ...(runtimeArgs ?? []), GENERATOR, JSON.stringify(spec)], fdLimit), {
        cwd: ROOT,
        onEvent: (event: ChildEvent) => {
          if (event.ev === "progress" && options.onProgress) {
            options.onProgress(`gen${i}: live ${event.live} deliveries ${event.deliveries} lost ${event.lost} dup ${event.duplicates}`);
          }
        },
      });
      procs.push(proc);
    }
    let live = 0;
    let failures = 0;
    let firstError: string | undefined;
    let connectMs = 0;
    let retries = 0;
    try {
      const readies = await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === "ready", options.readyTimeoutMs ?? 60_000)));
      for (const ready of readies) {
        live += Number(ready.live);
        failures += Number(ready.failures);
        firstError ??= ready.firstError as string | undefined;
        connectMs = Math.max(connectMs, Number(ready.connectMs));
        retries += Number(ready.retries ?? 0);
      }
    } catch (error) {
      for (const p of procs) p.kill();
      throw error;
    }
    return new Fleet(procs, live, failures, performance.now() - started, connectMs, firstError, retries);
  }

  /**
   * Starts a phase expecting `expect` publications per subscribed topic on every connection,
   * runs `trigger` (which makes the publisher publish), and resolves with the merged result
   * once every process reports (complete or timed out).
   */
  async phase(expect: number, timeoutMs: number, trigger: () => void | Promise<void>): Promise<PhaseResult> {
    const id = ++this.#phaseId;
    const marks = this.procs.map((p) => p.mark);
    const started = this.procs.map((p, i) => p.waitFor((e) => e.ev === "phase-started" && e.id === id, 10_000, marks[i]));
    for (const p of this.procs) p.send({ cmd: "phase", id, expect, timeoutMs });
    await Promise.all(started);
    const done = this.procs.map((p, i) => p.waitFor((e) => e.ev === "phase-done" && e.id === id, timeoutMs + 15_000, marks[i]));
    await trigger();
    const reports = await Promise.all(done);
    const result: PhaseResult = {
      complete: true,
      missing: 0,
      deliveries: 0,
      duplicates: 0,
      lost: 0,
      gaps: 0,
      unstamped: 0,
      undecodable: 0,
      errors: 0,
      parsed: 0,
      firstAt: Infinity,
      lastAt: 0,
      latency: new Histogram(),
      unexpectedCloses: 0,
      closeCodes: {},
      reads: 0,
    };
    for (const report of reports) {
      const stats = report.stats as Record<string, number>;
      result.complete &&= report.complete === true;
      result.missing += Number(report.missing);
      result.deliveries += stats.deliveries!;
      result.duplicates += stats.duplicates!;
      result.lost += stats.lost!;
      result.gaps += stats.gaps!;
      result.unstamped += stats.unstamped!;
      result.undecodable += stats.undecodable!;
      result.errors += stats.errors!;
      result.parsed += stats.parsed ?? 0;
      if (Number(report.firstAt) > 0) result.firstAt = Math.min(result.firstAt, Number(report.firstAt));
      result.lastAt = Math.max(result.lastAt, Number(report.lastAt));
      result.latency.merge(report.latency as Parameters<Histogram["merge"]>[0]);
      result.unexpectedCloses += Number(report.unexpectedCloses);
      result.reads += Number(report.reads ?? 0);
      for (const [code, n] of Object.entries(report.closeCodes as Record<string, number>)) {
        result.closeCodes[code] = (result.closeCodes[code] ?? 0) + n;
      }
    }
    if (result.firstAt === Infinity) result.firstAt = 0;
    return result;
  }

  /** Sends `rounds` WSE pings per connection; resolves with pings sent, PONGs seen and wall ms. */
  async heartbeat(rounds: number, timeoutMs: number): Promise<{ pings: number; pongs: number; ms: number; complete: boolean }> {
    const marks = this.procs.map((p) => p.mark);
    const done = this.procs.map((p, i) => p.waitFor((e) => e.ev === "heartbeat-done", timeoutMs + 10_000, marks[i]));
    for (const p of this.procs) p.send({ cmd: "heartbeat", rounds, timeoutMs });
    const reports = await Promise.all(done);
    return {
      pings: reports.reduce((n, r) => n + Number(r.pings), 0),
      pongs: reports.reduce((n, r) => n + Number(r.pongs), 0),
      ms: Math.max(...reports.map((r) => Number(r.ms))),
      complete: reports.every((r) => r.complete === true),
    };
  }

  /**
   * Throws when more than `tolerance` (share, default 1 %) of the connections failed to set
   * up; otherwise returns a note for the report (or null when none failed).
   */
  checkSetup(total: number, tolerance = 0.01): string | null {
    if (this.failures > total * tolerance) throw new Error(`${this.failures} of ${total} connections failed: ${this.firstError}`);
    return this.failures > 0 ? `${this.failures} of ${total} connections could not be set up (${this.firstError}); measured on the other ${this.live}` : null;
  }

  /** Closes every connection and ends the processes. */
  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(5000)));
  }
}
