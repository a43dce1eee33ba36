/**
 * Measurement core of the codec benchmark, free of runtime-specific imports so the same code
 * runs in Bun, Deno, Node and a browser page: deterministic payloads, time-boxed rate
 * measurement in interleaved best-of rounds, and the result table.
 * @module
 */

/** One implementation of one operation, ready to call on a prepared input. */
export interface Candidate {
  /** Display name, e.g. `wasm` or `native (node:zlib)`. */
  implementation: string;
  /** One message's worth of work. */
  run: () => unknown;
  /** `run` returns a promise that must be awaited (WebCrypto). */
  isAsync?: boolean;
  /** Output size of one call (compressors), for the compression ratio. */
  outputBytes?: () => number;
}

/** An operation measured at several payload sizes. */
export interface Operation {
  /** Display name, e.g. `zlib compress`. */
  name: string;
  /** Whether the payload size applies (handshakes do not depend on it). */
  sized: boolean;
  /** The candidates for one payload. */
  candidates: (data: Uint8Array) => Candidate[] | Promise<Candidate[]>;
}

/** One measured cell. */
export interface CodecResult {
  operation: string;
  size: number;
  implementation: string;
  messagesPerSec: number;
  mbPerSec: number;
  /** messages/s of this implementation ÷ messages/s of WASM for the same operation and size. */
  vsWasm: number;
  /** Output bytes ÷ input bytes (compressors only). */
  compressionRatio?: number;
}

/** How long to measure. */
export interface BenchTiming {
  /** Total measuring time per cell, split over `rounds`. */
  cellMs: number;
  /** Interleaved rounds per cell; each candidate keeps its best round. */
  rounds: number;
  /** Warm-up per candidate before the rounds. */
  warmupMs: number;
}

/** Payload sizes of the benchmark: 100 B, 1 KB, 16 KB, 256 KB. */
export const SIZES = [100, 1024, 16 * 1024, 256 * 1024];

/** Deterministic JSON-like payload of exactly `size` bytes (a batch of stamped publications). */
export function payload(size: number): Uint8Array {
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const entry = JSON.stringify({
      tp: "prices",
      e: "0000beef",
      o: next() % 100000,
      c: "U",
      t: "price_update",
      id: `m-${next().toString(16)}`,
      ts: new Date(1_700_000_000_000 + (next() % 1e8)).toISOString(),
      p: { symbol: ["ACME", "GLOBEX", "INITECH"][next() % 3], bid: (next() % 100000) / 100, ask: (next() % 100000) / 100 },
    });
    parts.push(entry);
    length += entry.length + 1;
  }
  return new TextEncoder().encode(parts.join("\n").slice(0, size).padEnd(size, " "));
}

/** Calls `fn` for about `ms` milliseconds (at least twice) and returns calls per second. */
async function rate(fn: () => unknown, isAsync: boolean, ms: number): Promise<number> {
  const start = performance.now();
  let n = 0;
  let elapsed = 0;
  do {
    if (isAsync) await fn();
    else fn();
    n++;
    elapsed = performance.now() - start;
  } while (elapsed < ms || n < 2);
  return (n * 1000) / elapsed;
}

/**
 * Measures candidates in interleaved rounds and keeps each one's best round: other processes
 * share the two cores, and the best of several short interleaved rounds is far less sensitive
 * to their bursts than one long run per candidate.
 */
async function bestRates(candidates: Candidate[], timing: BenchTiming): Promise<number[]> {
  for (const c of candidates) await rate(c.run, c.isAsync ?? false, timing.warmupMs);
  const best = candidates.map(() => 0);
  for (let round = 0; round < timing.rounds; round++) {
    for (const [i, c] of candidates.entries()) {
      best[i] = Math.max(best[i]!, await rate(c.run, c.isAsync ?? false, timing.cellMs / timing.rounds));
    }
  }
  return best;
}

/** Measures every operation at every size; each cell's `vsWasm` compares with the `wasm` candidate. */
export async function runOperations(operations: Operation[], timing: BenchTiming): Promise<CodecResult[]> {
  const results: CodecResult[] = [];
  for (const op of operations) {
    for (const size of op.sized ? SIZES : [0]) {
      const data = payload(Math.max(size, 1));
      const candidates = await op.candidates(data);
      const rates = await bestRates(candidates, timing);
      const cells = candidates.map((c, i): CodecResult => ({
        operation: op.name,
        size,
        implementation: c.implementation,
        messagesPerSec: Math.round(rates[i]!),
        mbPerSec: Number(((rates[i]! * size) / 1e6).toFixed(2)),
        vsWasm: 0,
        ...(c.outputBytes ? { compressionRatio: Number((c.outputBytes() / data.length).toFixed(4)) } : {}),
      }));
      const wasm = cells.find((c) => c.implementation === "wasm")?.messagesPerSec ?? Number.NaN;
      for (const c of cells) c.vsWasm = Number((c.messagesPerSec / wasm).toFixed(2));
      results.push(...cells);
    }
  }
  return results;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Renders results as an aligned text table. */
export function formatTable(results: CodecResult[]): string {
  const header = ["operation", "size", "implementation", "msg/s", "MB/s", "× wasm", "out/in"];
  const rows = results.map((r) => [
    r.operation,
    r.size ? (r.size >= 1024 ? `${r.size / 1024} KB` : `${r.size} B`) : "-",
    r.implementation,
    fmt(r.messagesPerSec),
    r.size ? fmt(r.mbPerSec, 1) : "-",
    fmt(r.vsWasm, 2),
    r.compressionRatio === undefined ? "" : fmt(r.compressionRatio, 3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
