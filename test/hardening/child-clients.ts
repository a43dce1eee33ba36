/**
 * The parent's side of `client-child.ts`: spawns a child process running real clients, parses
 * its JSON lines into one `StreamLedger` per client, and can freeze (SIGSTOP), resume (SIGCONT)
 * or stop it.
 *
 * @module
 */
import { StreamLedger } from "./ledger.ts";

const CHILD = new URL("./client-child.ts", import.meta.url).pathname;

/** Options of {@link ChildClients.spawn}. */
export interface ChildOptions {
  url: string;
  token?: string;
  topic: string;
  clients?: number;
  baseDelay?: number;
  /** Only ready/err lines (for large herds). */
  quiet?: boolean;
}

/** A child process with real clients in it. */
export class ChildClients {
  /** One ledger per client (indexed like the child's clients). */
  readonly ledgers: StreamLedger[] = [];
  /** Ready timestamps (ms since the epoch) per client, in order. */
  readonly readyAt: number[][] = [];
  /** Error messages the clients reported. */
  readonly errors: string[] = [];
  /** True once every client connected the first time. */
  allReady = false;
  #stderr = "";

  private constructor(
    private readonly proc: ReturnType<typeof Bun.spawn>,
    count: number,
  ) {
    for (let i = 0; i < count; i++) {
      this.ledgers.push(new StreamLedger());
      this.readyAt.push([]);
    }
  }

  /** Spawns the child and waits until all its clients are connected. */
  static async spawn(options: ChildOptions, timeoutMs = 60_000): Promise<ChildClients> {
    const count = options.clients ?? 1;
    const proc = Bun.spawn([process.execPath, CHILD], {
      env: {
        ...process.env,
        WSE_CHILD_URL: options.url,
        WSE_CHILD_TOKEN: options.token ?? "",
        WSE_CHILD_TOPIC: options.topic,
        WSE_CHILD_CLIENTS: String(count),
        WSE_CHILD_BASE_DELAY: String(options.baseDelay ?? 200),
        WSE_CHILD_QUIET: options.quiet ? "1" : "0",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    const child = new ChildClients(proc, count);
    void child.#read(proc.stdout as ReadableStream<Uint8Array>);
    void (async () => {
      const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        child.#stderr = (child.#stderr + decoder.decode(value, { stream: true })).slice(-4000);
      }
    })().catch(() => undefined);
    const deadline = Date.now() + timeoutMs;
    while (!child.allReady) {
      if (proc.exitCode !== null) throw new Error(`client child exited (${proc.exitCode}): ${child.#stderr}`);
      if (Date.now() > deadline) throw new Error(`client child not ready within ${timeoutMs} ms: ${child.#stderr}`);
      await Bun.sleep(20);
    }
    return child;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    let rest = "";
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) if (line) this.#line(JSON.parse(line));
    }
  }

  #line(m: { k: string; i?: number; t?: number; tp?: string; e?: string; o?: number; p?: Record<string, unknown>; m?: string }): void {
    const ledger = m.i === undefined ? undefined : this.ledgers[m.i];
    switch (m.k) {
      case "all-ready":
        this.allReady = true;
        return;
      case "ready":
        this.readyAt[m.i!]!.push(m.t!);
        return;
      case "ev":
        ledger?.record({ type: "tick", topic: m.tp, epoch: m.e, offset: m.o });
        return;
      case "disc":
        ledger?.record({ type: "discontinuity", topic: String(m.p?.topic), payload: m.p });
        return;
      case "rec":
        ledger?.record({ type: "recovery", topic: String(m.p?.topic), payload: m.p });
        return;
      case "err":
        this.errors.push(m.m ?? "");
        return;
    }
  }

  /** The child's process id. */
  get pid(): number {
    return this.proc.pid;
  }

  /** Freezes the child (SIGSTOP): its sockets stay open, nothing is read or answered. */
  freeze(): void {
    process.kill(this.proc.pid, "SIGSTOP");
  }

  /** Lets a frozen child run again (SIGCONT). */
  resume(): void {
    process.kill(this.proc.pid, "SIGCONT");
  }

  /** Stops the child (resumed first, then SIGTERM; SIGKILL after 5 s). */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    try {
      this.resume();
    } catch {
      // gone
    }
    this.proc.kill("SIGTERM");
    const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
    if (!done) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
  }

  /** The child's recent stderr. */
  stderr(): string {
    return this.#stderr;
  }
}
