/**
 * Load generator process: opens many raw WebSocket connections to one WSE server, performs the
 * WSE handshake on each (`server_ready` → `client_hello` → `server_hello`), subscribes with
 * recovery, and checks every publication's position per topic for loss and duplicates while
 * recording publish→receive latency. The orchestrator drives it with JSON lines on stdin and
 * reads JSON lines from stdout; it exits by itself at its deadline or when stdin closes.
 *
 * Usage: `bun bench/generator.ts '<GeneratorSpec JSON>'`
 *
 * Commands (stdin): `{"cmd":"phase","id":1,"expect":200,"timeoutMs":5000}` (count the next
 * `expect` publications per subscribed topic on every connection), `{"cmd":"heartbeat","rounds":1,"timeoutMs":5000}`,
 * `{"cmd":"exit"}`. Events (stdout): `ready`, `progress`, `phase-done`, `heartbeat-done`, `fatal`, `exit`.
 *
 * Cost per delivery (it shares the machine with the server): frames are read in place from the
 * TCP read buffer (`raw-ws.ts` hands over buffer + range), the stamp and bench fields are
 * scanned without allocating (`scanStamp`), the topic is matched as bytes against the
 * connection's own topics (arrays, no map), the clock is read once per TCP read, and each
 * distinct `C:` body is inflated once (`InflateMemo`: later identical copies are compared byte
 * for byte, then scanned per connection like any frame). Every delivery is still checked on
 * its own connection and topic; anything the scanner does not recognise goes through
 * `JSON.parse` exactly as before.
 * @module
 */
import { connectRawWs, type RawWsConnection, readsSoFar } from "./lib/raw-ws.ts";
import { Histogram } from "./lib/histogram.ts";
import { signJwt } from "./lib/jwt.ts";
import { DeliveryStats, TopicTracker } from "./lib/offsets.ts";
import {
  BenchKeyExchange,
  type BenchKey,
  bytesEqual,
  frameToJson,
  InflateMemo,
  jsonStart,
  nowMs,
  parseEnvelope,
  publicationOf,
  scanStamp,
  stamp,
} from "./lib/wse-wire.ts";

/** Everything one generator process needs to know. */
export interface GeneratorSpec {
  /** Name used in progress output. */
  name: string;
  /** Server port. */
  port: number;
  /** Hosts to spread connections over (e.g. 127.0.0.1, 127.0.0.2 to multiply the port space). */
  hosts: string[];
  /** WebSocket path with query (default `/wse`). */
  path?: string;
  /** Connections to open. */
  connections: number;
  /** Index of this process's first connection (for topic assignment and user ids). */
  firstIndex?: number;
  /** Topic names. */
  topics: string[];
  /** Topics per connection; connection i takes topics[(i*k + j) % topics.length]. */
  topicsPerConnection: number;
  /** Subscribe at all (false: idle connections that only handshake). */
  subscribe?: boolean;
  /** Ask for recovery in the subscribe request (default true). */
  recover?: boolean;
  /** Ask for end-to-end encryption. */
  encryption?: boolean;
  /** HS256 secret: each connection gets its own token (`sub` = bench-<index>). */
  jwtSecret?: string;
  /** Connections being set up at once (default 200). */
  concurrency?: number;
  /** Hard deadline of the whole process in seconds. */
  maxSeconds: number;
  /** Emit a progress line every this many ms (default 1000; 0 = never). */
  progressMs?: number;
}

/** Per-connection state; the subscribed topics are parallel arrays (no Map lookup per frame). */
interface ConnState {
  index: number;
  stage: "ready" | "hello" | "subscribe" | "live";
  key?: BenchKey;
  exchange?: BenchKeyExchange;
  /** Subscribed topic names. */
  topicNames: string[];
  /** UTF-8 bytes of each name, compared in place with a frame's `tp`. */
  topicBytes: Uint8Array[];
  /** Position checker of each topic. */
  trackers: TopicTracker[];
  remaining: number;
  pongs: number;
  resolve?: () => void;
  reject?: (error: Error) => void;
}

function out(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}

const spec = JSON.parse(process.argv[2] ?? "{}") as GeneratorSpec;
const stats = new DeliveryStats();
const latency = new Histogram();
const conns: RawWsConnection[] = [];
let phase: { id: number; expect: number; pendingConns: number; firstAt: number; lastAt: number; startedAt: number; readsAtStart: number; timer?: ReturnType<typeof setTimeout> } | null = null;
let unexpectedCloses = 0;
const closeCodes: Record<string, number> = {};
let liveConnections = 0;
let exiting = false;
const utf8 = new TextEncoder();
/** `C:` bodies are the same for every subscriber of a publication: inflate each distinct one once. */
const inflateMemo = new InflateMemo();
/** Wall clock read once per TCP read: every message of one read gets the same receive time. */
let clockRead = -1;
let clockMs = 0;

function topicsFor(index: number): string[] {
  const k = Math.min(spec.topicsPerConnection, spec.topics.length);
  const chosen = new Set<string>();
  for (let j = 0; j < k; j++) chosen.add(spec.topics[(index * k + j) % spec.topics.length]!);
  return [...chosen];
}

function clientHello(state: ConnState): string {
  const p: Record<string, unknown> = {
    client_version: "wse-bench/1",
    protocol_version: 1,
    features: { compression: true, encryption: !!spec.encryption, msgpack: false, recovery: true, batching: false },
  };
  if (spec.encryption) {
    state.exchange = new BenchKeyExchange();
    p.encryption_public_key = state.exchange.publicKeyBase64;
  }
  return JSON.stringify({ c: "WSE", t: "client_hello", v: 1, p });
}

function subscribeRequest(state: ConnState): string {
  return JSON.stringify({
    c: "WSE",
    t: "subscription_update",
    p: { action: "subscribe", topics: state.topicNames, recover: spec.recover ?? true },
  });
}

function onSystem(conn: RawWsConnection, state: ConnState, envelope: Record<string, unknown>): void {
  const type = envelope.t ?? envelope.type;
  const p = (envelope.p ?? envelope.payload ?? {}) as Record<string, unknown>;
  if (type === "error") {
    stats.errors++;
    if (state.stage !== "live") state.reject?.(new Error(`server error during handshake: ${JSON.stringify(p)}`));
    return;
  }
  if (type === "PONG" || type === "pong") {
    state.pongs++;
    heartbeatTick();
    return;
  }
  if (type === "ping") {
    conn.sendText(JSON.stringify({ c: "WSE", t: "PONG", v: 1, p: { timestamp: Date.now() } }));
    return;
  }
  if (state.stage === "ready" && type === "server_ready") {
    state.stage = "hello";
    conn.sendText(clientHello(state));
    return;
  }
  if (state.stage === "hello" && type === "server_hello") {
    const serverKey = p.encryption_public_key;
    if (spec.encryption) {
      if (typeof serverKey !== "string") {
        state.reject?.(new Error("server_hello without encryption_public_key"));
        return;
      }
      state.key = state.exchange!.derive(serverKey);
    }
    if (spec.subscribe === false || state.topicNames.length === 0) {
      state.stage = "live";
      state.resolve?.();
      return;
    }
    state.stage = "subscribe";
    conn.sendText(subscribeRequest(state));
    return;
  }
  if (state.stage === "subscribe" && (type === "subscription_update" || type === "subscription")) {
    const recovery = (p.recovery ?? {}) as Record<string, { offset?: unknown }>;
    for (let i = 0; i < state.topicNames.length; i++) {
      const offset = recovery[state.topicNames[i]!]?.offset;
      if (typeof offset === "number") state.trackers[i]!.baseline(offset);
    }
    const failed = p.failed_topics;
    if (Array.isArray(failed) && failed.length > 0) {
      state.reject?.(new Error(`subscribe failed: ${JSON.stringify(p.errors ?? failed)}`));
      return;
    }
    state.stage = "live";
    state.resolve?.();
  }
}

function onMessage(conn: RawWsConnection, opcode: number, bytes: Uint8Array, start: number, end: number, read: number): void {
  const state = conn.state as ConnState;
  if (read !== clockRead) {
    clockRead = read;
    clockMs = nowMs();
  }
  if (opcode === 1 && state.stage === "live") {
    const at = jsonStart(bytes, start, end);
    if (scanStamp(bytes, at, end) && stamp.n >= 0) {
      deliverStamped(state, bytes);
      return;
    }
  }
  let json: Uint8Array;
  try {
    json = frameToJson(opcode, bytes.subarray(start, end), state.key, inflateMemo);
  } catch {
    stats.undecodable++;
    return;
  }
  if (state.stage === "live") {
    if (json[0] !== 0x7b) {
      stats.undecodable++;
      return;
    }
    if (scanStamp(json, 0, json.length) && stamp.n >= 0) {
      deliverStamped(state, json);
      return;
    }
  }
  const envelope = parseEnvelope(json);
  if (envelope === null) {
    stats.undecodable++;
    return;
  }
  if (state.stage === "live") {
    const publication = publicationOf(envelope);
    if (publication.n >= 0 && (publication.topic !== null || publication.offset >= 0 || state.topicNames.length === 1)) {
      stats.parsed++;
      deliverParsed(state, publication.topic, publication.offset, publication.n, publication.ts0);
      return;
    }
  }
  onSystem(conn, state, envelope);
}

/** A publication `scanStamp` just read from `bytes` (its results are in `stamp`). */
function deliverStamped(state: ConnState, bytes: Uint8Array): void {
  const topics = state.topicBytes;
  for (let i = 0; i < topics.length; i++) {
    if (bytesEqual(bytes, stamp.topicStart, stamp.topicEnd, topics[i]!)) {
      count(state, state.trackers[i]!, stamp.offset, stamp.ts0);
      return;
    }
  }
  stats.undecodable++;
}

/** A publication read by `JSON.parse` (unusual shape or unstamped). */
function deliverParsed(state: ConnState, topic: string | null, offset: number, n: number, ts0: number): void {
  let position = offset;
  let index = topic === null ? -1 : state.topicNames.indexOf(topic);
  if (topic === null || offset < 0) {
    stats.unstamped++;
    position = n;
    if (index < 0 && state.topicNames.length > 0) index = 0;
  }
  if (index < 0) {
    stats.undecodable++;
    return;
  }
  count(state, state.trackers[index]!, position, ts0);
}

function count(state: ConnState, tracker: TopicTracker, position: number, ts0: number): void {
  if (tracker.observe(position, stats) === "duplicate") return;
  const now = clockMs;
  if (ts0 === ts0) latency.record(now - ts0);
  if (phase) {
    if (phase.firstAt === 0) phase.firstAt = now;
    phase.lastAt = now;
    if (state.remaining > 0 && --state.remaining === 0 && --phase.pendingConns === 0) finishPhase();
  }
}

function finishPhase(): void {
  if (!phase) return;
  clearTimeout(phase.timer);
  let missing = 0;
  for (const conn of conns) missing += Math.max(0, (conn.state as ConnState).remaining);
  out({
    ev: "phase-done",
    id: phase.id,
    complete: phase.pendingConns === 0,
    missing,
    firstAt: phase.firstAt,
    lastAt: phase.lastAt,
    startedAt: phase.startedAt,
    reads: readsSoFar() - phase.readsAtStart,
    inflated: inflateMemo.inflated,
    inflateReused: inflateMemo.reused,
    stats: stats.toJSON(),
    latency: latency.toJSON(),
    liveConnections,
    unexpectedCloses,
    closeCodes,
  });
  phase = null;
}

function startPhase(id: number, expect: number, timeoutMs: number): void {
  if (phase) finishPhase();
  stats.reset();
  latency.clear();
  let pending = 0;
  for (const conn of conns) {
    const state = conn.state as ConnState;
    state.remaining = conn.open ? expect * state.topicNames.length : 0;
    if (state.remaining > 0) pending++;
  }
  phase = { id, expect, pendingConns: pending, firstAt: 0, lastAt: 0, startedAt: nowMs(), readsAtStart: readsSoFar() };
  phase.timer = setTimeout(finishPhase, timeoutMs);
  if (pending === 0) queueMicrotask(finishPhase);
  out({ ev: "phase-started", id });
}

let heartbeat: { target: number; rounds: number; startedAt: number; timer?: ReturnType<typeof setTimeout> } | null = null;

function heartbeatTick(): void {
  if (!heartbeat) return;
  let total = 0;
  for (const conn of conns) total += (conn.state as ConnState).pongs;
  if (total >= heartbeat.target) finishHeartbeat(true);
}

function finishHeartbeat(complete: boolean): void {
  if (!heartbeat) return;
  clearTimeout(heartbeat.timer);
  let pongs = 0;
  for (const conn of conns) pongs += (conn.state as ConnState).pongs;
  out({ ev: "heartbeat-done", complete, pings: heartbeat.target, pongs, ms: nowMs() - heartbeat.startedAt });
  heartbeat = null;
}

function startHeartbeat(rounds: number, timeoutMs: number): void {
  let target = 0;
  for (const conn of conns) {
    const state = conn.state as ConnState;
    state.pongs = 0;
    if (!conn.open) continue;
    for (let r = 0; r < rounds; r++) {
      conn.sendText(JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: Date.now() } }));
      target++;
    }
  }
  heartbeat = { target, rounds, startedAt: nowMs() };
  heartbeat.timer = setTimeout(() => finishHeartbeat(false), timeoutMs);
  if (target === 0) queueMicrotask(() => finishHeartbeat(true));
}

async function openOne(index: number): Promise<void> {
  const host = spec.hosts[index % spec.hosts.length]!;
  const headers: Record<string, string> = {};
  if (spec.jwtSecret) headers.Authorization = `Bearer ${signJwt(spec.jwtSecret, `bench-${index}`)}`;
  const state: ConnState = { index, stage: "ready", topicNames: [], topicBytes: [], trackers: [], remaining: 0, pongs: 0 };
  if (spec.subscribe !== false) {
    for (const topic of topicsFor(index)) {
      state.topicNames.push(topic);
      state.topicBytes.push(utf8.encode(topic));
      state.trackers.push(new TopicTracker());
    }
  }
  const handshake = new Promise<void>((resolve, reject) => {
    state.resolve = resolve;
    state.reject = reject;
  });
  handshake.catch(() => {});
  const conn = await connectRawWs(
    { host, port: spec.port, path: spec.path ?? "/wse", headers, timeoutMs: 15_000 },
    {
      onMessage,
      onClose(c, code) {
        const s = c.state as ConnState;
        if (s.stage === "live") liveConnections--;
        s.reject?.(new Error(`closed during handshake with ${code}`));
        if (!exiting) {
          unexpectedCloses++;
          closeCodes[code] = (closeCodes[code] ?? 0) + 1;
        }
        if (phase && s.remaining > 0) {
          s.remaining = 0;
          if (--phase.pendingConns === 0) finishPhase();
        }
      },
    },
    state,
  );
  conns.push(conn);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handshake timed out at stage ${state.stage}`)), 15_000);
  });
  try {
    await Promise.race([handshake, timeout]);
  } finally {
    clearTimeout(timer);
  }
  liveConnections++;
}

async function openAll(): Promise<{ failures: number; retries: number; firstError?: string; ms: number }> {
  const started = nowMs();
  const first = spec.firstIndex ?? 0;
  let next = 0;
  let failures = 0;
  let retries = 0;
  let firstError: string | undefined;
  const concurrency = Math.max(1, spec.concurrency ?? 200);
  const worker = async () => {
    while (next < spec.connections && !exiting) {
      const index = first + next++;
      for (let attempt = 1; ; attempt++) {
        try {
          await openOne(index);
          break;
        } catch (error) {
          firstError ??= (error as Error).message;
          if (attempt >= 4 || exiting) {
            failures++;
            break;
          }
          retries++;
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, spec.connections) }, worker));
  return { failures, retries, firstError, ms: nowMs() - started };
}

function exit(code: number): never {
  exiting = true;
  for (const conn of conns) conn.destroy();
  out({ ev: "exit", code });
  process.exit(code);
}

async function main(): Promise<void> {
  const deadline = setTimeout(() => {
    out({ ev: "fatal", error: `deadline of ${spec.maxSeconds} s reached` });
    exit(3);
  }, spec.maxSeconds * 1000);
  deadline.unref?.();
  let progressTimer: ReturnType<typeof setInterval> | undefined;
  if ((spec.progressMs ?? 1000) > 0) {
    progressTimer = setInterval(() => {
      out({ ev: "progress", live: liveConnections, deliveries: stats.deliveries, lost: stats.lost, duplicates: stats.duplicates, closes: unexpectedCloses });
    }, spec.progressMs ?? 1000);
  }
  const opened = await openAll();
  out({ ev: "ready", live: liveConnections, failures: opened.failures, retries: opened.retries, firstError: opened.firstError, connectMs: opened.ms });
  let buffered = "";
  process.stdin.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (!line) continue;
      let command: Record<string, unknown>;
      try {
        command = JSON.parse(line);
      } catch {
        out({ ev: "fatal", error: `bad command: ${line.slice(0, 100)}` });
        continue;
      }
      if (command.cmd === "phase") startPhase(Number(command.id), Number(command.expect), Number(command.timeoutMs ?? 10_000));
      else if (command.cmd === "heartbeat") startHeartbeat(Number(command.rounds ?? 1), Number(command.timeoutMs ?? 10_000));
      else if (command.cmd === "exit") {
        clearInterval(progressTimer);
        exit(0);
      }
    }
  });
  process.stdin.on("end", () => exit(0));
}

if (import.meta.main) {
  main().catch((error) => {
    out({ ev: "fatal", error: String((error as Error)?.stack ?? error) });
    exit(2);
  });
}
