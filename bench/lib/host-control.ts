/**
 * The control channel every benchmark host speaks (our server embedded, the bare Bun baseline,
 * the HTTP publisher; the Python host for the upstream server mirrors it): JSON commands on
 * stdin, JSON events on stdout. `publish` sends `count` publications to each listed topic,
 * round-robin, at `rate` publications/s in total (0 = as fast as the host can, yielding every
 * `batch` publications), numbering them with a per-topic sequence `n` that continues across
 * commands so the generators can check order even on unstamped frames.
 *
 * @example
 * ```ts
 * import { serveControl } from "./host-control.ts";
 * serveControl({ publish: (topic, payload) => server.publish(topic, "bench", payload) });
 * // stdin: {"cmd":"publish","topics":["a"],"count":100,"rate":0,"size":100}
 * // stdout: {"ev":"published","count":100,"startedAt":…,"endedAt":…}
 * ```
 * @module
 */
import { nowMs } from "./wse-wire.ts";

/** What a host must provide. */
export interface HostPublisher {
  /** Publishes one payload to a topic; may return a promise (awaited per batch). */
  publish(topic: string, payload: BenchPayload): unknown;
  /** Called on `exit` before the process ends. */
  close?(): unknown;
}

/** The bench payload: padding, the per-topic sequence number and the publish time. */
export interface BenchPayload {
  pad: string;
  n: number;
  ts0: number;
}

/** A publish command. */
export interface PublishCommand {
  cmd: "publish";
  topics: string[];
  /** Publications per topic. */
  count: number;
  /** Total publications per second; 0 = unthrottled. */
  rate?: number;
  /** Approximate JSON size of the payload in bytes. */
  size?: number;
  /** Publications between yields to the event loop when unthrottled (default 25). */
  batch?: number;
}

const WORDS = [
  "price", "volume", "order", "trade", "market", "symbol", "bid", "ask", "last", "open", "close",
  "high", "low", "delta", "gamma", "venue", "status", "filled", "partial", "cancel", "quote", "depth",
];

/**
 * Padding text of `length` characters: words from a fixed list in a fixed pseudo-random order,
 * so it compresses like real JSON text (a run of one letter would compress to nothing).
 */
export function paddingText(length: number): string {
  let seed = 12345;
  let text = "";
  while (text.length < length) {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    text += WORDS[seed % WORDS.length] + (seed % 7 === 0 ? "." : " ") + ((seed >> 8) % 1000) + " ";
  }
  return text.slice(0, length);
}

const padCache = new Map<number, string>();

/** A payload whose JSON is about `size` bytes. */
export function makePayload(n: number, size: number): BenchPayload {
  let pad = padCache.get(size);
  if (pad === undefined) {
    pad = paddingText(Math.max(0, size - 48));
    padCache.set(size, pad);
  }
  return { pad, n, ts0: nowMs() };
}

function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs one publish command; resolves with the number of publications made. */
export async function runPublish(command: PublishCommand, host: HostPublisher, sequence: Map<string, number>): Promise<number> {
  const size = command.size ?? 100;
  const total = command.count * command.topics.length;
  const rate = command.rate ?? 0;
  const batch = Math.max(1, command.batch ?? 25);
  const started = performance.now();
  let sent = 0;
  let pending: unknown[] = [];
  const publishOne = () => {
    const topic = command.topics[sent % command.topics.length]!;
    const n = sequence.get(topic) ?? 0;
    sequence.set(topic, n + 1);
    const result = host.publish(topic, makePayload(n, size));
    if (result instanceof Promise) pending.push(result);
    sent++;
  };
  const settle = async () => {
    if (pending.length === 0) return;
    const waiting = pending;
    pending = [];
    await Promise.all(waiting);
  };
  while (sent < total) {
    if (rate > 0) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
      while (sent < due) publishOne();
      await settle();
      if (sent < total) await sleep(1);
    } else {
      const end = Math.min(total, sent + batch);
      while (sent < end) publishOne();
      await settle();
      await yieldToLoop();
    }
  }
  await settle();
  return sent;
}

/**
 * Reads commands from stdin until `exit` or end of input. Prints `{"ev":"ready",…extra}` first.
 * Commands run one at a time, in order.
 */
export function serveControl(host: HostPublisher, ready: Record<string, unknown>): void {
  const sequence = new Map<string, number>();
  let queue = Promise.resolve();
  let buffered = "";
  const handle = async (line: string) => {
    let command: Record<string, unknown>;
    try {
      command = JSON.parse(line);
    } catch {
      emit({ ev: "error", error: `bad command: ${line.slice(0, 100)}` });
      return;
    }
    if (command.cmd === "publish") {
      const startedAt = nowMs();
      try {
        const count = await runPublish(command as unknown as PublishCommand, host, sequence);
        emit({ ev: "published", count, startedAt, endedAt: nowMs() });
      } catch (error) {
        emit({ ev: "error", error: String((error as Error)?.message ?? error) });
      }
    } else if (command.cmd === "exit") {
      await host.close?.();
      emit({ ev: "exit" });
      process.exit(0);
    } else {
      emit({ ev: "error", error: `unknown command ${String(command.cmd)}` });
    }
  };
  process.stdin.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) queue = queue.then(() => handle(line));
    }
  });
  process.stdin.on("end", async () => {
    await queue;
    await host.close?.();
    process.exit(0);
  });
  emit({ ev: "ready", pid: process.pid, ...ready });
}
