/**
 * A paced HTTP publisher for the fault scenarios: `POST /api/publish` to one topic at a target
 * rate (issued in small concurrent bursts every 10 ms), tolerant of a server or Redis that is
 * down (failures are counted, not thrown), reporting what it achieved.
 *
 * @module
 */
import { sleep } from "../conformance/wire.ts";

/** Something that can publish (a conformance `Target`, or one of several nodes). */
export interface PublishSink {
  publish(topic: string, type: string, payload: unknown): Promise<{ epoch: string; offset: number }>;
}

/** What a publisher did. */
export interface PublisherReport {
  /** Publications the server confirmed. */
  published: number;
  /** Publishes that failed (server down, 503, …). */
  failed: number;
  /** Achieved confirmed rate over the run, per second. */
  ratePerSecond: number;
  /** Highest confirmed position per epoch, in the order epochs were first seen. */
  epochs: { epoch: string; top: number }[];
  /** Wall time of the run, ms. */
  durationMs: number;
}

/** Publishes to `topic` at about `ratePerSecond` until stopped. */
export class Publisher {
  #running = true;
  #loop: Promise<void>;
  #published = 0;
  #failed = 0;
  #epochs = new Map<string, number>();
  #started = performance.now();
  #seq = 0;

  /**
   * Starts publishing right away; `sinks` are used round-robin (several nodes of a cluster);
   * `topic` is one topic or a function choosing the topic of each publication.
   */
  constructor(
    private readonly sinks: PublishSink[],
    private readonly topic: string | (() => string),
    private readonly ratePerSecond: number,
  ) {
    this.#loop = this.#run();
  }

  async #one(): Promise<void> {
    const seq = this.#seq++;
    const sink = this.sinks[seq % this.sinks.length]!;
    try {
      const topic = typeof this.topic === "string" ? this.topic : this.topic();
      const pos = await sink.publish(topic, "tick", { seq });
      this.#published++;
      const top = this.#epochs.get(pos.epoch);
      if (top === undefined || pos.offset > top) this.#epochs.set(pos.epoch, pos.offset);
    } catch {
      this.#failed++;
    }
  }

  async #run(): Promise<void> {
    const tickMs = 10;
    let due = 0;
    let last = performance.now();
    while (this.#running) {
      const now = performance.now();
      due += ((now - last) * this.ratePerSecond) / 1000;
      last = now;
      const burst = Math.min(Math.floor(due), Math.max(1, Math.ceil(this.ratePerSecond / 20)));
      due -= burst;
      if (burst > 0) await Promise.all(Array.from({ length: burst }, () => this.#one()));
      const spent = performance.now() - now;
      if (spent < tickMs) await sleep(tickMs - spent);
      if (due > this.ratePerSecond) due = this.ratePerSecond; // do not build an unbounded backlog while down
    }
  }

  /** Publications confirmed so far. */
  get published(): number {
    return this.#published;
  }

  /** Stops, waits for in-flight publishes, and reports. */
  async stop(): Promise<PublisherReport> {
    this.#running = false;
    await this.#loop;
    const durationMs = performance.now() - this.#started;
    return {
      published: this.#published,
      failed: this.#failed,
      ratePerSecond: Math.round((this.#published * 1000) / durationMs),
      epochs: [...this.#epochs].map(([epoch, top]) => ({ epoch, top })),
      durationMs: Math.round(durationMs),
    };
  }
}
