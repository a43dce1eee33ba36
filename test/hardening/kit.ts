/**
 * Shared machinery of the hardening scenarios: a spawned server (the conformance suite's
 * `startTarget`) plus what a stress scenario needs on top — the server's pid and resident
 * memory from `/proc`, a seeded PRNG, a `/health` prober, a bystander whose stream must stay
 * gapless, distribution summaries and the one-line verdict every scenario prints.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { startTarget, type Target, type TargetConfig } from "../conformance/target.ts";
import { pidListeningOn, processListensOn } from "../ports.ts";
import { onTopic, sleep, WireClient } from "../conformance/wire.ts";

export { sleep };
/** The pid of the process that holds the listening socket on a port (from `test/ports.ts`). */
export { pidListeningOn };

/** A spawned server with its process id and memory readings. */
export interface HardTarget extends Target {
  /** The TCP port the server listens on. */
  readonly port: number;
  /** The server process id (looked up from the listening socket; changes after a restart). */
  pid(): number;
  /** Resident set size of the server process in KiB (`VmRSS` in `/proc/<pid>/status`). */
  rssKiB(): number;
}

/**
 * Starts a server for a scenario (`startTarget` with logs kept quiet; it starts again on a new
 * port when the chosen free port was taken before the server bound it) and finds its pid.
 */
export async function startHardTarget(config: TargetConfig = {}): Promise<HardTarget> {
  const target = await startTarget(config);
  const port = Number(new URL(target.httpUrl).port);
  let cached: number | null = null;
  const pid = (): number => {
    if (cached !== null && processListensOn(cached, port)) return cached;
    cached = pidListeningOn(port);
    if (cached === null) throw new Error(`no process listens on port ${port}`);
    return cached;
  };
  return Object.assign(target, { port, pid, rssKiB: () => rssKiB(pid()) });
}

/** `VmRSS` of a process in KiB (0 when the process is gone). */
export function rssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of a run: `WSE_HARDENING_SEED` when set, else derived from the clock (and printed). */
export function seedFromEnv(label: string): number {
  const seed = Number(process.env.WSE_HARDENING_SEED ?? Date.now() % 1_000_000);
  console.warn(`[hardening] ${label} seed ${seed} (WSE_HARDENING_SEED=${seed} replays it)`);
  return seed;
}

/** Summary of a list of numbers. */
export interface Distribution {
  n: number;
  min: number;
  p10: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Percentiles of `values` (nearest rank); all zero for an empty list. */
export function distribution(values: number[]): Distribution {
  const xs = [...values].sort((a, b) => a - b);
  const at = (q: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))]! : 0);
  const mean = xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0;
  return { n: xs.length, min: xs[0] ?? 0, p10: at(0.1), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: xs[xs.length - 1] ?? 0, mean: Math.round(mean) };
}

/**
 * Prints the scenario's verdict as one line, `[hardening] <name>: PASS|FAIL {json}`, and
 * returns it. Scenario programs exit non-zero on FAIL; tests assert `pass`.
 */
export function report<T extends Record<string, unknown>>(name: string, pass: boolean, numbers: T): { name: string; pass: boolean } & T {
  const line = { name, pass, at: new Date().toISOString(), ...numbers };
  console.warn(`[hardening] ${name}: ${pass ? "PASS" : "FAIL"} ${JSON.stringify(numbers)}`);
  return line;
}

/** Polls `/health` every `intervalMs` until stopped; records each answer's latency and status. */
export class HealthProbe {
  /** Latency of each answered probe, ms. */
  readonly latencies: number[] = [];
  /** Probes that failed (no answer within `timeoutMs`, or a network error). */
  failures = 0;
  /** Status codes seen, with counts. */
  readonly statuses: Record<string, number> = {};
  #running = true;
  #loop: Promise<void>;

  /** Starts probing `httpUrl` (a base URL) right away. */
  constructor(
    private readonly httpUrl: string,
    private readonly intervalMs = 100,
    private readonly timeoutMs = 5000,
  ) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      const started = performance.now();
      try {
        const res = await fetch(`${this.httpUrl}/health`, { signal: AbortSignal.timeout(this.timeoutMs) });
        await res.arrayBuffer();
        this.latencies.push(performance.now() - started);
        this.statuses[res.status] = (this.statuses[res.status] ?? 0) + 1;
      } catch {
        this.failures++;
      }
      await sleep(this.intervalMs);
    }
  }

  /** Stops probing and returns the latency distribution (ms, rounded). */
  async stop(): Promise<Distribution & { failures: number; statuses: Record<string, number> }> {
    this.#running = false;
    await this.#loop;
    const d = distribution(this.latencies.map((x) => Math.round(x)));
    return { ...d, failures: this.failures, statuses: this.statuses };
  }
}

/**
 * A control connection subscribed to its own topic while a background publisher feeds that
 * topic over HTTP every `intervalMs`: whatever else happens to the server, this stream must
 * arrive whole (offsets 0..top, once each, in order).
 */
export class Bystander {
  #publishing = true;
  #publisher: Promise<void> = Promise.resolve();
  /** Highest offset the publisher got back. */
  top = -1;
  /** Publishes that failed (HTTP errors). */
  publishErrors = 0;

  private constructor(
    private readonly target: Target,
    /** The control connection. */
    readonly client: WireClient,
    /** The topic it watches. */
    readonly topic: string,
  ) {}

  /** Connects, subscribes and starts publishing. */
  static async start(target: Target, intervalMs = 20, topic = `bystander.${crypto.randomUUID().slice(0, 8)}`): Promise<Bystander> {
    const token = target.jwtSecret ? await target.mintToken({ sub: "bystander" }) : undefined;
    const { url, headers } = target.withToken(token);
    const client = await WireClient.connect(url, { headers });
    await client.handshake();
    await client.subscribe([topic]);
    const b = new Bystander(target, client, topic);
    b.#publisher = (async () => {
      for (let i = 0; b.#publishing && i < 1_000_000; i++) {
        try {
          b.top = (await target.publish(topic, "tick", { i })).offset;
        } catch {
          b.publishErrors++;
        }
        await sleep(intervalMs);
      }
    })();
    return b;
  }

  /**
   * Stops publishing, waits for the last offset and checks the stream. Returns problems found
   * (empty = whole) and the number of publications seen.
   */
  async finish(timeoutMs = 10_000): Promise<{ problems: string[]; received: number; top: number }> {
    this.#publishing = false;
    await this.#publisher;
    const problems: string[] = [];
    if (this.client.closeInfo) problems.push(`control connection closed (${this.client.closeInfo.code} ${this.client.closeInfo.reason})`);
    if (this.top >= 0) {
      await this.client.waitFor((f) => f.envelope?.tp === this.topic && f.envelope.o === this.top, timeoutMs, 0, `offset ${this.top}`).catch((e) => problems.push(String(e)));
    }
    const offsets = this.client.frames.filter(onTopic(this.topic)).map((f) => f.envelope!.o as number);
    for (let i = 0; i < offsets.length; i++) {
      if (offsets[i] !== i) {
        problems.push(`offset #${i} is ${offsets[i]} (gap or duplicate)`);
        break;
      }
    }
    if (this.publishErrors > 0) problems.push(`${this.publishErrors} publishes failed`);
    await this.client.close();
    return { problems, received: offsets.length, top: this.top };
  }
}

/** Connects with a minted token for `sub` and completes the handshake. */
export async function connectWire(target: Target, sub: string, options: { query?: Record<string, string>; claims?: Record<string, unknown>; encryption?: boolean; publicKeyOverride?: string } = {}): Promise<WireClient> {
  const token = target.jwtSecret ? await target.mintToken({ sub, ...options.claims }) : undefined;
  const { url, headers } = target.withToken(token, options.query);
  const client = await WireClient.connect(url, { headers });
  await client.handshake({ encryption: options.encryption, publicKeyOverride: options.publicKeyOverride });
  return client;
}

/** Waits for `predicate` (polling every 20 ms); throws naming `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Reads one unlabelled series from the server's `/metrics` (Prometheus text); NaN when absent. */
export async function metric(target: { httpUrl: string }, name: string): Promise<number> {
  const text = await (await fetch(`${target.httpUrl}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.eE+-]+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** MiB with one decimal, from KiB. */
export function mib(kib: number): number {
  return Math.round(kib / 102.4) / 10;
}
