/**
 * Structured logging: one JSON object per line (`{"ts","level","msg",...fields}`), written to
 * stderr by default. Implements the `Logger` interface of `server/types.ts`.
 *
 * @example
 * ```ts
 * const log = createLogger({ level: "info" });
 * log.info("listening", { port: 5007 }); // {"ts":"…","level":"info","msg":"listening","port":5007}
 * ```
 *
 * @module
 */
import type { Logger } from "./types.ts";

/** Log levels, least to most severe; `silent` logs nothing. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Every accepted level name. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "silent"];

/** Options of `createLogger`. */
export interface LoggerOptions {
  /** Least severe level written (default "info"). */
  level?: LogLevel;
  /** Receives each line without its newline (default: written to stderr). */
  write?: (line: string) => void;
  /** Fields added to every line (e.g. `{ service: "wse" }`). */
  base?: Record<string, unknown>;
  /** Clock for tests. */
  now?: () => Date;
}

/** True when `value` names a log level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Creates a JSON-lines logger. Never throws: unserializable fields are replaced by a note. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? "info"];
  const write = options.write ?? writeStderr;
  const base = options.base ?? {};
  const now = options.now ?? (() => new Date());
  const emit = (level: Exclude<LogLevel, "silent">, message: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < threshold) return;
    const record = { ts: now().toISOString(), level, msg: message, ...base, ...fields };
    let line: string;
    try {
      line = JSON.stringify(record, replacer);
    } catch {
      line = JSON.stringify({ ts: record.ts, level, msg: message, note: "log fields were not serializable" });
    }
    try {
      write(line);
    } catch {
      // A broken log sink must never take the server down.
    }
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

/** A logger that drops everything (for tests and embedding). */
export const silentLogger: Logger = createLogger({ level: "silent" });

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  const text = `${line}\n`;
  const proc = (globalThis as { process?: { stderr?: { write(s: string): unknown } } }).process;
  if (proc?.stderr) {
    proc.stderr.write(text);
    return;
  }
  const deno = (globalThis as { Deno?: { stderr: { writeSync(b: Uint8Array): number } } }).Deno;
  if (deno) {
    deno.stderr.writeSync(encoder.encode(text));
    return;
  }
  console.error(line);
}
