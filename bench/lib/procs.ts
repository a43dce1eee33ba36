/**
 * Child processes that talk JSON lines: spawn, send commands, wait for events with a timeout,
 * read their CPU time and resident memory from `/proc`, and always clean them up (every process
 * spawned here is killed when the orchestrator exits, is interrupted, or calls `killAll`).
 *
 * @example
 * ```ts
 * import { JsonProcess } from "./procs.ts";
 * const host = JsonProcess.spawn("bare", ["bun", "bench/baselines/bare-bun.ts"]);
 * const ready = await host.waitFor((e) => e.ev === "ready", 10_000);
 * host.send({ cmd: "exit" });
 * await host.exited(5_000);
 * ```
 * @module
 */
import type { Subprocess } from "bun";
import { readdirSync, readFileSync } from "node:fs";

/** One JSON event from a child. */
export type ChildEvent = Record<string, unknown> & { ev?: string };

const live = new Set<JsonProcess>();

/** Kills every child still running (SIGKILL to the whole process group is not used: only our pids). */
export function killAll(): void {
  for (const child of live) child.kill();
}

let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      killAll();
      process.exit(130);
    });
  }
}

/** A child process with a JSON-lines stdout and a JSON-lines stdin. */
export class JsonProcess {
  readonly events: ChildEvent[] = [];
  readonly stderrTail: string[] = [];
  #waiters = new Set<() => void>();
  #exitCode: number | null = null;
  #onEvent?: (event: ChildEvent) => void;

  private constructor(
    /** Short name for messages. */
    readonly name: string,
    /** The Bun subprocess. */
    readonly proc: Subprocess<"pipe", "pipe", "pipe">,
  ) {}

  /** Spawns `cmd`; `onEvent` sees every event (e.g. to print progress). */
  static spawn(
    name: string,
    cmd: string[],
    options: { env?: Record<string, string | undefined>; cwd?: string; onEvent?: (event: ChildEvent) => void } = {},
  ): JsonProcess {
    installHooks();
    const proc = Bun.spawn(cmd, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const child = new JsonProcess(name, proc);
    child.#onEvent = options.onEvent;
    live.add(child);
    void child.#pump(proc.stdout, (line) => child.#line(line));
    void child.#pump(proc.stderr, (line) => {
      child.stderrTail.push(line.replace(/\x1b\[[0-9;]*m/g, ""));
      if (child.stderrTail.length > 40) child.stderrTail.shift();
    });
    void proc.exited.then((code) => {
      child.#exitCode = code;
      live.delete(child);
      child.#wake();
    });
    return child;
  }

  async #pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of stream) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          onLine(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      }
    } catch {
      // the stream ends when the child dies; nothing to do
    }
    if (buffered) onLine(buffered);
  }

  #line(line: string): void {
    const trimmed = line.trim();
    if (!trimmed.startsWith("{")) {
      this.stderrTail.push(trimmed);
      if (this.stderrTail.length > 40) this.stderrTail.shift();
      return;
    }
    let event: ChildEvent;
    try {
      event = JSON.parse(trimmed);
    } catch {
      return;
    }
    this.events.push(event);
    this.#onEvent?.(event);
    this.#wake();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  /** The OS pid. */
  get pid(): number {
    return this.proc.pid;
  }

  /** The exit code, or null while running. */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Sends one JSON command line (ignored once the child exited). */
  send(command: Record<string, unknown>): void {
    if (this.#exitCode !== null) return;
    try {
      this.proc.stdin.write(JSON.stringify(command) + "\n");
      this.proc.stdin.flush();
    } catch {
      // the child is gone
    }
  }

  /**
   * Waits for the first event after index `from` (default: any unconsumed one) matching
   * `predicate`; rejects after `timeoutMs` or when the child exits first.
   */
  waitFor(predicate: (event: ChildEvent) => boolean, timeoutMs: number, from = 0): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      let index = from;
      const check = () => {
        for (; index < this.events.length; index++) {
          const event = this.events[index]!;
          if (event.ev === "fatal") return finish(new Error(`${this.name}: ${String(event.error)}`));
          if (predicate(event)) return finish(null, event);
        }
        if (this.#exitCode !== null) {
          finish(new Error(`${this.name} exited with ${this.#exitCode}: ${this.stderrTail.slice(-8).join(" | ")}`));
        }
      };
      const timer = setTimeout(() => finish(new Error(`${this.name}: timed out after ${timeoutMs} ms`)), timeoutMs);
      const finish = (error: Error | null, event?: ChildEvent) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(event!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Number of events seen so far (pass as `from` to wait only for newer ones). */
  get mark(): number {
    return this.events.length;
  }

  /** Waits for exit up to `timeoutMs`, then kills. */
  async exited(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.proc.exited;
    clearTimeout(timer);
  }

  /** Asks politely (`exit` command), then kills after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exitCode !== null) return;
    this.send({ cmd: "exit" });
    try {
      this.proc.stdin.end();
    } catch {
      // already closed
    }
    await this.exited(graceMs);
  }

  /** SIGKILL this child. */
  kill(): void {
    if (this.#exitCode === null) {
      try {
        this.proc.kill(9);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Wraps a command so that it runs with at least `limit` open files: `ulimit -n` is raised as
 * far as the hard limit allows, then the command is exec'd (same pid).
 */
export function withFdLimit(cmd: string[], limit: number | undefined): string[] {
  if (!limit) return cmd;
  const want = Math.ceil(limit);
  const script = `if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt ${want} ]; then ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; fi; exec "$@"`;
  return ["bash", "-c", script, "bash", ...cmd];
}

/** Resident set size of a pid in bytes (0 when unreadable). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = status.match(/^VmRSS:\s+(\d+) kB/m);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system) of a pid and all its threads in milliseconds. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / 100;
  } catch {
    return 0;
  }
}

/**
 * CPU time of every thread of a pid in milliseconds with nanosecond resolution, from
 * `/proc/<pid>/task/<tid>/schedstat` (falls back to `cpuMs`, 10 ms ticks, when unavailable).
 */
export function cpuPreciseMs(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // the thread ended between readdir and read
      }
    }
    return ns / 1e6;
  } catch {
    return cpuMs(pid);
  }
}

/** Total CPU time of the whole machine (all cores, busy jiffies) in ms, from /proc/stat. */
export function machineBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = v[0]! + v[1]! + v[2]! + v[5]! + v[6]! + v[7]!;
  return (busy * 1000) / 100;
}
