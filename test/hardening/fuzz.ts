/**
 * The frame fuzzer: a seeded, bounded barrage of hostile input against a running server, with
 * a verdict. Run it as a program (`bun test/hardening/fuzz.ts [--seed N] [--rounds N]`) or
 * through `fuzz.test.ts` (the CI size).
 *
 * Inputs: random prefixes; truncated and corrupted `C:`/`Z:`/`M:`/`E:` and text bodies; zip
 * bombs (zlib, zstd, inside `E:`); JSON and msgpack depth bombs and absurd declared lengths;
 * invalid UTF-8 (binary JSON, inflated bodies, msgpack strings, raw text frames); frames at and
 * over the size limit; thousands of subscribe requests; topics with control characters and odd
 * Unicode; repeated `client_hello`; invalid public keys; replayed and reflected `E:` frames;
 * seeded mutations of valid envelopes in every wire form; and from the network without a token,
 * a flood of refused upgrades and half-sent upgrade requests held open.
 *
 * Verdict (PROTOCOL.md §3, §6, §7): every connection gets the documented error code for its
 * input (never an undocumented one such as `INTERNAL_ERROR`) and then still answers a ping, or
 * was closed with a documented code; a control client's stream stays gapless; `/health` answers
 * throughout; the server process is the same one at the end; and its resident memory returns
 * near the baseline.
 *
 * @module
 */
import { connect as connectTcp } from "node:net";
import { deflateSync } from "node:zlib";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { encryptFrame, utf8, withPrefix } from "../conformance/frames.ts";
import { hostKind } from "../conformance/target.ts";
import { onTopic, type WireClient } from "../conformance/wire.ts";
import { buildFrame, sendRawFrames } from "./raw-frames.ts";
import { Bystander, connectWire, distribution, HealthProbe, type HardTarget, mib, prng, report, sleep, startHardTarget } from "./kit.ts";

/** Error codes PROTOCOL.md documents for inbound problems; anything else is a finding. */
export const DOCUMENTED_ERRORS = new Set([
  "INVALID_MESSAGE",
  "MESSAGE_TOO_LARGE",
  "RATE_LIMITED",
  "KEY_EXCHANGE_FAILED",
  "DECRYPTION_FAILED",
  "FORBIDDEN",
  "PUBLISH_DISABLED",
  "INVALID_TOPIC",
  "PRESENCE_DISABLED",
]);

/** One fuzz case's outcome. */
export interface CaseResult {
  name: string;
  ok: boolean;
  detail: string;
}

/** Options of {@link runFrameFuzz}. */
export interface FuzzOptions {
  /** PRNG seed (the same seed sends the same frames). */
  seed: number;
  /** Rounds of seeded envelope mutations (20 frames per round, one connection each). */
  mutationRounds: number;
  /** Connections that each subscribe 128 distinct topics and leave (hub growth and cleanup). */
  topicChurnConnections: number;
  /** RSS after the run may exceed the baseline by this much (KiB) … */
  rssToleranceKiB: number;
  /** … or by this fraction of the baseline, whichever is larger. */
  rssToleranceRatio: number;
  /** Stop early (and fail) when this many cases failed. */
  maxFailures: number;
  /** Connections with a refused token opened at once. */
  refusedFlood: number;
  /** TCP connections that send half an upgrade request and hold it. */
  halfOpenUpgrades: number;
}

/** The fuzzer's report. */
export interface FuzzReport {
  pass: boolean;
  seed: number;
  cases: number;
  failed: CaseResult[];
  bystander: { problems: string[]; received: number };
  health: ReturnType<typeof distribution> & { failures: number };
  rss: { baselineMiB: number; peakMiB: number; afterMiB: number; limitMiB: number; settledMs: number };
  samePid: boolean;
  errorCodes: Record<string, number>;
  closeCodes: Record<string, number>;
  notes: string[];
}

/** Default CI-sized options. */
export const CI_FUZZ: Omit<FuzzOptions, "seed"> = {
  mutationRounds: 30,
  topicChurnConnections: 20,
  rssToleranceKiB: 96 * 1024,
  rssToleranceRatio: 0.75,
  maxFailures: 10,
  refusedFlood: 500,
  halfOpenUpgrades: 200,
};

type Frame = string | Uint8Array;

/** What a case expects of the server. */
interface Expect {
  /** At least this many error frames (default: one per frame sent). */
  minErrors?: number;
  /** Error codes that count toward `minErrors` (other documented codes are tolerated). */
  codes?: string[];
  /** Close codes accepted instead of the final PONG. */
  closeCodes?: number[];
  /** Extra check on the connection afterwards; returns a problem or null. */
  check?: (client: WireClient, since: number) => string | null | Promise<string | null>;
}

class Fuzzer {
  readonly results: CaseResult[] = [];
  readonly errorCodes: Record<string, number> = {};
  readonly closeCodes: Record<string, number> = {};
  readonly notes: string[] = [];
  readonly rand: () => number;
  peakKiB = 0;

  constructor(
    readonly target: HardTarget,
    readonly options: FuzzOptions,
  ) {
    this.rand = prng(options.seed);
  }

  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }

  samplePeak(): void {
    this.peakKiB = Math.max(this.peakKiB, this.target.rssKiB());
  }

  get failures(): number {
    return this.results.filter((r) => !r.ok).length;
  }

  /**
   * Runs one case on a fresh connection: sends the frames (a function may send them itself),
   * expects the errors, then a PONG (or an accepted close).
   */
  async run(name: string, frames: Frame[] | ((c: WireClient) => Promise<void> | void), expect: Expect = {}, conn: { encryption?: boolean; msgpack?: boolean; sub?: string } = {}): Promise<void> {
    if (this.failures >= this.options.maxFailures) return;
    let client: WireClient | null = null;
    try {
      client = await connectWire(this.target, conn.sub ?? `fuzz-${this.results.length}`, { encryption: conn.encryption, query: conn.msgpack ? { format: "msgpack" } : undefined });
      const since = client.mark();
      let sent = 0;
      if (typeof frames === "function") await frames(client);
      else
        for (const f of frames) {
          client.sendRaw(f);
          sent++;
        }
      const problem = await this.settle(client, since, typeof frames === "function" ? (expect.minErrors ?? 0) : (expect.minErrors ?? sent), expect);
      this.results.push({ name, ok: problem === null, detail: problem ?? "" });
    } catch (error) {
      this.results.push({ name, ok: false, detail: `threw: ${error instanceof Error ? error.message : String(error)}` });
    } finally {
      this.samplePeak();
      await client?.close();
    }
  }

  async settle(client: WireClient, since: number, minErrors: number, expect: Expect): Promise<string | null> {
    // A ping every second for up to 10 s: a ping may itself be dropped by the rate limiter
    // (documented) right after a flood, so liveness is "some ping gets its PONG".
    const stamp = 424242 + this.results.length;
    const pingAt = client.mark();
    let ponged = false;
    for (let attempt = 0; attempt < 10 && !ponged && !client.closeInfo; attempt++) {
      try {
        client.send({ c: "WSE", t: "ping", p: { timestamp: stamp } });
      } catch {
        break; // closed meanwhile
      }
      ponged = await client
        .waitFor((f) => f.envelope?.t === "PONG" && (f.envelope.p as { client_timestamp?: number })?.client_timestamp === stamp, 1000, pingAt, "PONG")
        .then(() => true)
        .catch(() => false);
    }
    const errors = client.envelopes(since).filter((e) => e.t === "error");
    for (const e of errors) {
      const code = String((e.p as { code?: unknown })?.code);
      this.errorCodes[code] = (this.errorCodes[code] ?? 0) + 1;
    }
    const undocumented = errors.map((e) => String((e.p as { code?: unknown })?.code)).filter((c) => !DOCUMENTED_ERRORS.has(c));
    if (undocumented.length) return `undocumented error code(s) ${[...new Set(undocumented)].join(",")}: ${client.describe(since)}`;
    const counted = expect.codes ? errors.filter((e) => expect.codes!.includes(String((e.p as { code?: unknown })?.code))).length : errors.length;
    const closed = client.closeInfo;
    if (closed) this.closeCodes[closed.code] = (this.closeCodes[closed.code] ?? 0) + 1;
    if (!ponged) {
      if (closed && expect.closeCodes?.includes(closed.code)) return expect.check ? await expect.check(client, since) : null;
      return closed ? `closed ${closed.code} (${closed.reason}) without an accepted code: ${client.describe(since)}` : `no PONG within 10 s (stalled): ${client.describe(since)}`;
    }
    if (counted < minErrors) return `expected ≥ ${minErrors} error(s)${expect.codes ? ` of ${expect.codes.join("|")}` : ""}, got ${counted}: ${client.describe(since)}`;
    if (expect.check) return await expect.check(client, since);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------------

function deepJsonArray(depth: number): string {
  return `{"c":"U","t":"deep","p":{"v":${"[".repeat(depth)}1${"]".repeat(depth)}}}`;
}

function deepJsonObject(depth: number): string {
  return `{"c":"U","t":"deep","p":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
}

function deepMsgpackArray(depth: number): Uint8Array {
  // {t:"deep", p:{v:[[[…1…]]]}} with fixarray(1) headers.
  const head = Uint8Array.from([0x82, 0xa1, 0x74, 0xa4, 0x64, 0x65, 0x65, 0x70, 0xa1, 0x70, 0x81, 0xa1, 0x76]);
  const out = new Uint8Array(head.length + depth + 1);
  out.set(head);
  out.fill(0x91, head.length, head.length + depth);
  out[out.length - 1] = 0x01;
  return out;
}

function deepMsgpackMap(depth: number): Uint8Array {
  const out = new Uint8Array(depth * 3 + 1);
  for (let i = 0; i < depth; i++) out.set([0x81, 0xa1, 0x61], i * 3);
  out[depth * 3] = 0x01;
  return out;
}

function zipBombJson(bytes: number): Uint8Array {
  const pad = new Uint8Array(bytes);
  pad.fill(0x20); // spaces: valid JSON whitespace, compresses ~1000:1
  const head = utf8('{"c":"U","t":"bomb","p":{}');
  const out = new Uint8Array(head.length + bytes + 1);
  out.set(head);
  out.set(pad, head.length);
  out[out.length - 1] = 0x7d;
  return out;
}

/** Valid envelopes the mutator starts from. */
function corpus(topic: string): Record<string, unknown>[] {
  return [
    { c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic, `${topic}.b`], recover: true, recovery: { [topic]: { epoch: "0000beef", offset: 3 } } } },
    { c: "WSE", t: "subscription_update", p: { action: "unsubscribe", topics: [topic] } },
    { t: "publish", p: { topic, type: "message", payload: { text: "hi" } }, cid: "c1" },
    { t: "presence_update", p: { data: { status: "online" } } },
    { t: "presence_request", p: { topic } },
    { c: "S", t: "sync_request", p: { topics: [topic] } },
    { t: "batch", p: { messages: [{ t: "ping", p: { timestamp: 1 } }, { t: "app_note", p: { x: 1 } }], count: 2 } },
    { c: "WSE", t: "client_hello", v: 1, p: { client_version: "fuzz", protocol_version: 2, features: { zstd: true } } },
    { c: "U", t: "app_note", p: { n: 1, s: "x" }, id: "id-1", pri: 5 },
  ];
}

const HOSTILE: unknown[] = [
  null,
  -1,
  1e308,
  -0,
  2 ** 64,
  "",
  "\u0000",
  "x".repeat(5000),
  [],
  {},
  [[[[[]]]]],
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
  "🙂".repeat(100),
  "\ud800",
  true,
];

function mutate(f: Fuzzer, value: unknown, depth = 0): unknown {
  if (depth > 6) return value;
  if (Array.isArray(value)) {
    const arr = value.map((v) => (f.rand() < 0.3 ? mutate(f, v, depth + 1) : v));
    if (f.rand() < 0.2) arr.push(f.pick(HOSTILE));
    if (f.rand() < 0.1) arr.splice(0, 1);
    return arr;
  }
  if (value !== null && typeof value === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = f.rand();
      if (r < 0.1) continue; // drop the key
      if (r < 0.35) o[k] = f.pick(HOSTILE);
      else o[k] = mutate(f, v, depth + 1);
    }
    if (f.rand() < 0.15) o[f.pick(["t", "p", "type", "payload", "topics", "topic", "__proto__", "tp", "e", "o", "cid"])] = f.pick(HOSTILE);
    return o;
  }
  return f.rand() < 0.2 ? f.pick(HOSTILE) : value;
}

async function wireForm(f: Fuzzer, env: unknown, client: WireClient): Promise<Frame> {
  const json = JSON.stringify(env);
  switch (f.int(client.key ? 5 : 4)) {
    case 0:
      return withPrefix("C:", deflateSync(utf8(json)));
    case 1:
      return withPrefix("M:", msgpackEncode(env, { maxDepth: 200, ignoreUndefined: true }));
    case 2:
      return withPrefix("Z:", Bun.zstdCompressSync(utf8(json)));
    case 4:
      return encryptFrame(client.key!, utf8(json));
    default:
      return json;
  }
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/** Runs the whole fuzz scenario against `target` and returns the report. */
export async function runFrameFuzz(target: HardTarget, options: FuzzOptions): Promise<FuzzReport> {
  const f = new Fuzzer(target, options);
  const pid = target.pid();
  const bystander = await Bystander.start(target, 20);
  const health = new HealthProbe(target.httpUrl, 100);
  // Warm up the paths the run will exercise, then take the baseline.
  await f.run("warm-up", [JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: 1 } })], { minErrors: 0 });
  await sleep(500);
  const baselineKiB = target.rssKiB();
  f.peakKiB = baselineKiB;
  const base = `fz.${crypto.randomUUID().slice(0, 6)}`;
  const validJson = JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [`${base}.t`] } });

  // 1. Random prefixes with random bodies (E: excluded: no key on these connections).
  for (let round = 0; round < 6; round++) {
    const frames: Frame[] = [];
    for (let i = 0; i < 12; i++) {
      let a = 0x20 + f.int(95);
      const b = f.int(2) ? 0x3a : 0x20 + f.int(95);
      if (String.fromCharCode(a, b) === "E:") a = 0x51;
      if (a === 0x7b || a === 0x20 || a === 0x5b || a === 0x22) a = 0x41; // not the start of JSON
      const body = f.bytes(f.int(300));
      const out = new Uint8Array(2 + body.length);
      out.set([a, b]);
      out.set(body, 2);
      if (out[0] === 0x78) out[0] = 0x79; // not a bare zlib header
      frames.push(out);
    }
    await f.run(`random prefixes #${round}`, frames, { codes: ["INVALID_MESSAGE"] });
  }

  // 2. Truncated bodies of every form.
  const forms: [string, (s: string) => Uint8Array | string][] = [
    ["text", (s) => s],
    ["C:", (s) => withPrefix("C:", deflateSync(utf8(s)))],
    ["Z:", (s) => withPrefix("Z:", Bun.zstdCompressSync(utf8(s)))],
    ["M:", (s) => withPrefix("M:", msgpackEncode(JSON.parse(s)))],
  ];
  for (const [form, encode] of forms) {
    const whole = encode(validJson);
    const frames: Frame[] = [];
    for (let i = 0; i < 10; i++) {
      const cut = 2 + f.int(whole.length - 3);
      frames.push(typeof whole === "string" ? whole.slice(0, cut) : whole.slice(0, cut));
    }
    await f.run(`truncated ${form} bodies`, frames, { codes: ["INVALID_MESSAGE"] });
  }
  await f.run("truncated E: bodies", async (c) => {
    const whole = await encryptFrame(c.key!, utf8(validJson));
    for (let i = 0; i < 9; i++) c.sendRaw(whole.slice(0, 2 + f.int(whole.length - 3)));
  }, { minErrors: 3, codes: ["DECRYPTION_FAILED", "INVALID_MESSAGE"] }, { encryption: true });

  // 3. Corrupted bodies (a mutation may still decode: no error is required, only documented ones).
  for (const [form, encode] of forms) {
    const whole = encode(validJson);
    const frames: Frame[] = [];
    for (let i = 0; i < 10; i++) {
      const b = typeof whole === "string" ? utf8(whole) : whole.slice();
      for (let k = 0; k <= f.int(3); k++) {
        const at = 2 + f.int(b.length - 2);
        b[at] = b[at]! ^ (1 + f.int(255));
      }
      frames.push(b);
    }
    await f.run(`corrupted ${form} bodies`, frames, { minErrors: 0 });
  }
  await f.run("corrupted E: bodies (auth tag)", async (c) => {
    for (let i = 0; i < 9; i++) {
      const b = await encryptFrame(c.key!, utf8(validJson));
      const at = 2 + f.int(b.length - 2);
      b[at] = b[at]! ^ 0x01;
      c.sendRaw(b);
    }
  }, { minErrors: 3, codes: ["DECRYPTION_FAILED"] }, { encryption: true });

  // 4. Zip bombs: 64 MiB of JSON whitespace behind zlib, zstd, and zlib inside E:.
  const bomb = zipBombJson(64 * 1024 * 1024);
  const zlibBomb = withPrefix("C:", deflateSync(bomb, { level: 9 }));
  const zstdBomb = withPrefix("Z:", Bun.zstdCompressSync(bomb, { level: 3 }));
  f.notes.push(`zip bombs: zlib ${zlibBomb.length} B and zstd ${zstdBomb.length} B → 64 MiB`);
  await f.run("zlib bomb (C:, 64 MiB inflated)", [zlibBomb, zlibBomb], { codes: ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"] });
  await f.run("zstd bomb (Z:, 64 MiB inflated)", [zstdBomb, zstdBomb], { codes: ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"] });
  await f.run("bare zlib bomb (0x78 …)", [deflateSync(bomb, { level: 9 })], { codes: ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"] });
  await f.run("zlib bomb inside E:", async (c) => {
    c.sendRaw(await encryptFrame(c.key!, zlibBomb));
  }, { minErrors: 1, codes: ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"] }, { encryption: true });
  const exactly = withPrefix("C:", deflateSync(zipBombJson(1024 * 1024 - 27)));
  await f.run("C: inflating to exactly the 1 MiB limit is handled", [exactly], { minErrors: 0, check: (c, since) => (c.envelopes(since).some((e) => e.t === "error") ? `got an error: ${c.describe(since)}` : null) });
  const justOver = withPrefix("C:", deflateSync(zipBombJson(1024 * 1024 - 26)));
  await f.run("C: inflating to 1 MiB + 1 → too large", [justOver], { codes: ["MESSAGE_TOO_LARGE", "INVALID_MESSAGE"] });

  // 5. Depth bombs and absurd declared lengths.
  await f.run("JSON array depth bomb (100k)", [deepJsonArray(100_000)], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] });
  await f.run("JSON object depth bomb (100k)", [deepJsonObject(100_000)], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] });
  await f.run("JSON depth 65 (one over the limit)", [deepJsonArray(64)], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] });
  await f.run("msgpack array depth bomb (100k)", [withPrefix("M:", deepMsgpackArray(100_000))], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] });
  await f.run("msgpack map depth bomb (100k)", [withPrefix("M:", deepMsgpackMap(100_000))], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] });
  await f.run("msgpack depth bomb without prefix on a msgpack connection", [deepMsgpackArray(50_000)], { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] }, { msgpack: true });
  await f.run(
    "msgpack declared lengths of 4 G (array32, map32, str32, bin32, ext32)",
    [
      withPrefix("M:", Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])),
      withPrefix("M:", Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x74])),
      withPrefix("M:", Uint8Array.from([0x81, 0xa1, 0x74, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])),
      withPrefix("M:", Uint8Array.from([0x81, 0xa1, 0x74, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x61])),
      withPrefix("M:", Uint8Array.from([0x81, 0xa1, 0x74, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61])),
    ],
    { codes: ["INVALID_MESSAGE", "MESSAGE_TOO_LARGE"] },
  );
  await f.run("msgpack with a timestamp ext, a bigint and binary where strings belong", [
    withPrefix("M:", msgpackEncode({ t: new Date(), p: { v: 2n ** 63n - 1n } }, { useBigInt64: true })),
    withPrefix("M:", msgpackEncode({ t: new Uint8Array([1, 2, 3]), p: {} })),
  ], { codes: ["INVALID_MESSAGE"] });
  await f.run("a batch of 5,000 messages", [JSON.stringify({ t: "batch", p: { messages: Array.from({ length: 5000 }, (_, i) => ({ t: "app_note", p: { i } })), count: 5000 } })], { minErrors: 0 });
  await f.run("nested batches", [JSON.stringify({ t: "batch", p: { messages: [{ t: "batch", p: { messages: [{ t: "batch", p: { messages: [] } }] } }] } })], { codes: ["INVALID_MESSAGE"] });

  // 6. Invalid UTF-8.
  const badUtf8 = [
    Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // {"t":"\xff\xfe"}
    Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), // overlong '/'
    Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // UTF-8 surrogate
    Uint8Array.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]), // cut sequence
  ];
  await f.run("invalid UTF-8 in binary JSON frames", badUtf8, { codes: ["INVALID_MESSAGE"] });
  await f.run("invalid UTF-8 inside C: and Z: bodies", badUtf8.flatMap((b) => [withPrefix("C:", deflateSync(b)), withPrefix("Z:", Bun.zstdCompressSync(b))]), { codes: ["INVALID_MESSAGE"] });
  await f.run("invalid UTF-8 in msgpack strings", [
    withPrefix("M:", Uint8Array.from([0x82, 0xa1, 0x74, 0xa2, 0xff, 0xfe, 0xa1, 0x70, 0x80])),
    withPrefix("M:", Uint8Array.from([0x82, 0xa1, 0x74, 0xa4, 0x70, 0x69, 0x6e, 0x67, 0xa1, 0x70, 0x81, 0xa2, 0xed, 0xa0, 0x80])),
  ], { minErrors: 0 });
  const rawUrl = target.withToken(target.jwtSecret ? await target.mintToken({ sub: "raw" }) : undefined).url;
  for (const [label, frame, codes] of [
    ["a text frame with invalid UTF-8", buildFrame(0x1, Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), [1007]],
    ["a reserved opcode (0x3)", buildFrame(0x3, utf8("{}")), [1002]],
    ["RSV1 set without an extension", buildFrame(0x1, utf8('{"t":"ping"}'), { rsv: 4 }), [1002]],
    ["an unmasked client frame", buildFrame(0x1, utf8('{"t":"ping"}'), { mask: false }), [1002]],
    ["a fragmented control frame", buildFrame(0x9, utf8("x"), { fin: false }), [1002]],
  ] as [string, Uint8Array, number[]][]) {
    const outcome = await sendRawFrames(rawUrl, [frame], 4000);
    let ok = outcome.ended && (outcome.closeCode === null || codes.includes(outcome.closeCode) || outcome.closeCode === 1006);
    if (!ok && hostKind() === "deno" && label === "an unmasked client frame") {
      // Deno's WebSocket server accepts unmasked client frames (RFC 6455 §5.1 says close); not ours to fix.
      f.notes.push("KNOWN (Deno host): an unmasked client frame is accepted instead of closed 1002 (RFC 6455 §5.1)");
      ok = true;
    }
    f.results.push({ name: `raw: ${label} → close ${codes.join("|")}`, ok, detail: ok ? "" : `close ${outcome.closeCode}, ended ${outcome.ended}, texts ${outcome.texts.length}` });
    if (outcome.closeCode !== null) f.closeCodes[outcome.closeCode] = (f.closeCodes[outcome.closeCode] ?? 0) + 1;
  }

  // 7. Frames at and over the size limit (1 MiB inclusive).
  const limit = 1024 * 1024;
  const padded = (size: number) => {
    const head = '{"c":"U","t":"app_note","p":{"s":"';
    const tail = '"}}';
    return head + "x".repeat(size - head.length - tail.length) + tail;
  };
  await f.run("a text frame of exactly 1 MiB is handled", [padded(limit)], { minErrors: 0, check: (c, since) => (c.envelopes(since).some((e) => e.t === "error") ? `got an error: ${c.describe(since)}` : null) });
  await f.run("a text frame of 1 MiB + 1 → MESSAGE_TOO_LARGE", [padded(limit + 1)], { codes: ["MESSAGE_TOO_LARGE"] });
  await f.run("a binary frame of 1 MiB + 1 → MESSAGE_TOO_LARGE", [utf8(padded(limit + 1))], { codes: ["MESSAGE_TOO_LARGE"] });
  await f.run("a 15 MiB binary frame → MESSAGE_TOO_LARGE (under the host's hard cap)", [new Uint8Array(15 * limit)], { codes: ["MESSAGE_TOO_LARGE"] });
  await f.run("a 20 MiB frame → MESSAGE_TOO_LARGE or close 1009", [new Uint8Array(20 * limit)], { codes: ["MESSAGE_TOO_LARGE"], closeCodes: [1009] });

  // 8. Thousands of subscribe requests.
  await f.run("3,000 subscribe requests on one connection", (c) => {
    for (let i = 0; i < 3000; i++) c.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [`${base}.many.${i}`] } });
  }, {
    closeCodes: [4429],
    check: (c, since) => {
      const replies = c.envelopes(since).filter((e) => e.t === "subscription_update");
      const ok = replies.flatMap((e) => (e.p as { success_topics?: string[] }).success_topics ?? []);
      const limited = c.envelopes(since).some((e) => e.t === "error" && (e.p as { code?: string }).code === "RATE_LIMITED");
      if (ok.length > 128) return `${ok.length} topics accepted on one connection (limit 128)`;
      // Closed 4429 for the flood, the requests admitted but not yet handled go unanswered.
      if (replies.length < 128 && c.closeInfo?.code !== 4429) return `only ${replies.length} replies and no 4429`;
      if (replies.length < 3000 && !limited) return `${3000 - replies.length} requests vanished without RATE_LIMITED`;
      return null;
    },
  });
  await f.run("one subscribe request with 10,000 topics", [JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: Array.from({ length: 10_000 }, (_, i) => `${base}.wide.${i}`) } })], {
    minErrors: 0,
    check: async (c, since) => {
      const reply = await c.waitForType("subscription_update", 10_000, since);
      const p = reply.p as { success_topics: string[]; failed_topics: string[]; errors: Record<string, string> };
      if (p.success_topics.length !== 128) return `${p.success_topics.length} topics accepted (expected 128)`;
      if (p.failed_topics.length !== 10_000 - 128) return `${p.failed_topics.length} failed (expected ${10_000 - 128})`;
      return null;
    },
  });
  for (let i = 0; i < options.topicChurnConnections; i++) {
    await f.run(`topic churn connection ${i} (128 fresh topics, then gone)`, [JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: Array.from({ length: 128 }, (_, k) => `${base}.churn.${i}.${k}.${"p".repeat(180)}`), presence: { i } } })], { minErrors: 0 });
  }

  // 9. Topic names: control characters and odd Unicode (§3: 1–256 bytes, no control characters).
  const validOdd = ["\u200b", "rtl\u202eevil", "\ufeffbom", "e\u0301", "\u00e9", "😀".repeat(64), "€".repeat(85) + "a", "a".repeat(256), "\uffff\ufffe", "x/../y", "*", "?", "a b", "topic\u2028line", "\ud800"];
  const invalid = ["", "\u0000", "a\u0007b", "tab\tx", "cr\rx", "del\u007f", "c1\u0085", "c1\u009f", "😀".repeat(65), "€".repeat(86), "a".repeat(257)];
  await f.run("odd topic names: the §3 rule exactly, deliveries by exact name only", async (c) => {
    const reply = await c.subscribe([...validOdd, ...invalid]);
    const p = reply.p as { success_topics: string[]; failed_topics: string[] };
    const wrongOk = p.success_topics.filter((t) => invalid.includes(t));
    const missing = validOdd.filter((t) => !p.success_topics.includes(t));
    if (wrongOk.length || missing.length || p.failed_topics.length !== invalid.length) {
      throw new Error(`subscribe partition wrong: accepted invalid ${JSON.stringify(wrongOk)}, refused valid ${JSON.stringify(missing)}, failed ${p.failed_topics.length}/${invalid.length}`);
    }
    // NFC "é" and NFD "e\u0301" are different topics: a publication to one reaches only that one.
    const since = c.mark();
    for (const t of validOdd) await target.publish(t, "odd", { t });
    await c.waitForCount((fr) => fr.envelope?.t === "odd", validOdd.length, 10_000, since);
    await sleep(200);
    const got = c.envelopes(since).filter((e) => e.t === "odd");
    for (const e of got) {
      if (e.tp !== (e.p as { t: string }).t) throw new Error(`publication for ${JSON.stringify((e.p as { t: string }).t)} arrived stamped ${JSON.stringify(e.tp)}`);
    }
    if (got.length !== validOdd.length) throw new Error(`${got.length} deliveries for ${validOdd.length} publications`);
    for (const t of invalid) {
      const res = await target.api("/api/publish", { method: "POST", body: JSON.stringify({ topic: t, type: "x", payload: {} }) });
      await res.arrayBuffer();
      if (res.status !== 400) throw new Error(`HTTP publish to invalid topic ${JSON.stringify(t.slice(0, 20))} answered ${res.status}`);
    }
  }, { minErrors: 0 });

  // 10. Repeated client_hello keeps the key.
  await f.run("100 repeated client_hello frames keep the session key", async (c) => {
    const keyBefore = c.key!;
    let serverKey: unknown = null;
    const since = c.mark();
    for (let i = 0; i < 100; i++) {
      const features = { encryption: i % 2 === 0, zstd: i % 3 === 0, msgpack: i % 5 === 0 };
      const pubkey = i % 4 === 0 ? Buffer.from(f.bytes(65)).toString("base64") : undefined;
      c.send({ c: "WSE", t: "client_hello", v: 1, p: { client_version: `again-${i}`, protocol_version: f.pick([1, 2, 3, -1, 1e9, "2", null]), features, encryption_public_key: pubkey } });
    }
    const hellos = await c.waitForCount((fr) => fr.envelope?.t === "server_hello", 100, 15_000, since);
    for (const h of hellos) {
      const p = h.envelope!.p as { encryption_public_key?: string; features: { encryption: boolean } };
      if (!p.features.encryption) throw new Error("a repeated hello turned encryption off");
      serverKey ??= p.encryption_public_key;
      if (p.encryption_public_key !== serverKey) throw new Error("a repeated hello changed the server key");
    }
    if (c.key !== keyBefore) throw new Error("client key changed");
    const at = c.mark();
    await c.sendEncrypted({ c: "WSE", t: "ping", p: { timestamp: 7 } });
    await c.waitForType("PONG", 5000, at);
  }, { minErrors: 0 }, { encryption: true });

  // 11. Invalid public keys → KEY_EXCHANGE_FAILED, then server_hello with encryption:false.
  const p256Prime = Uint8Array.from(Buffer.from("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff", "hex"));
  const offCurve = new Uint8Array(65);
  offCurve[0] = 4;
  offCurve[32] = 1;
  offCurve[64] = 1;
  const zeros = new Uint8Array(65);
  zeros[0] = 4;
  const overP = new Uint8Array(65);
  overP[0] = 4;
  overP.set(p256Prime, 1);
  overP.set(p256Prime, 33);
  const compressed = new Uint8Array(33);
  compressed[0] = 2;
  compressed[32] = 7;
  const badKeys: [string, unknown][] = [
    ["empty", ""],
    ["not base64", "!!!not-base64!!!"],
    ["64 bytes", Buffer.from(new Uint8Array(64).fill(4)).toString("base64")],
    ["66 bytes", Buffer.from(new Uint8Array(66).fill(4)).toString("base64")],
    ["compressed point", Buffer.from(compressed).toString("base64")],
    ["off the curve (invalid-curve attack)", Buffer.from(offCurve).toString("base64")],
    ["all-zero coordinates", Buffer.from(zeros).toString("base64")],
    ["coordinates = p", Buffer.from(overP).toString("base64")],
    ["a number", 12345],
    ["an object", { x: 1, y: 2 }],
    ["a 512 KiB string", "A".repeat(512 * 1024)],
  ];
  for (const [label, key] of badKeys) {
    await f.run(`public key: ${label} → KEY_EXCHANGE_FAILED, encryption off`, async (c) => {
      const since = c.mark();
      c.send({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "bad-key", protocol_version: 2, features: { encryption: true }, encryption_public_key: key } });
      const hello = await c.waitForType("server_hello", 5000, since);
      const p = hello.p as { features: { encryption: boolean }; encryption_public_key?: string };
      if (p.features.encryption !== false) throw new Error(`server_hello says encryption:${p.features.encryption} for a bad key`);
    }, { minErrors: 1, codes: ["KEY_EXCHANGE_FAILED"] });
  }

  // 12. Replayed and reflected E: frames.
  await f.run("an E: frame replayed on another connection is dropped and publishes nothing", async (victim) => {
    const attacker = await connectWire(target, "replayer", { encryption: true });
    const observer = await connectWire(target, "replay-observer");
    try {
      const topic = `${base}.replay`;
      await observer.subscribe([topic]);
      const captured = await encryptFrame(victim.key!, utf8(JSON.stringify({ t: "publish", p: { topic, type: "msg", payload: { n: 1 } }, cid: "replay" })));
      victim.sendRaw(captured);
      await observer.waitFor(onTopic(topic), 5000);
      const since = attacker.mark();
      for (let i = 0; i < 6; i++) attacker.sendRaw(captured);
      await attacker.waitForType("error", 5000, since);
      const codes = attacker.envelopes(since).filter((e) => e.t === "error").map((e) => (e.p as { code: string }).code);
      if (codes.some((c) => c !== "DECRYPTION_FAILED")) throw new Error(`replay on another connection answered ${codes.join(",")}`);
      // Same connection: AES-GCM without sequence numbers cannot tell a replay from a resend.
      victim.sendRaw(captured);
      await sleep(300);
      const seen = observer.frames.filter(onTopic(topic)).length;
      f.notes.push(`an E: frame replayed on its own connection is ${seen === 2 ? "processed again (no replay protection in §6; see RELIABILITY.md)" : `seen ${seen} time(s)`}`);
      if (seen < 1 || seen > 2) throw new Error(`observer saw ${seen} publications`);
      // Reflection: the server's own E: frames sent back to it.
      const reflected = victim.frames.filter((fr) => fr.kind === "E").map((fr) => fr.raw as Uint8Array).slice(0, 5);
      for (const r of reflected) victim.sendRaw(r);
    } finally {
      await attacker.close();
      await observer.close();
    }
  }, { minErrors: 0 }, { encryption: true });

  // 13. Seeded mutations of valid envelopes in every wire form.
  for (let round = 0; round < options.mutationRounds; round++) {
    const encrypted = round % 3 === 0;
    await f.run(`mutation round ${round}`, async (c) => {
      const envs = corpus(`${base}.m${round}`);
      for (let i = 0; i < 20 && !c.closeInfo; i++) c.sendRaw(await wireForm(f, mutate(f, f.pick(envs)), c));
    }, { minErrors: 0, closeCodes: [4400, 4429] }, { encryption: encrypted, msgpack: round % 7 === 3 });
  }

  // 14. Floods from the network, no token: refused upgrades at once, and half-sent upgrades held open.
  {
    const started = performance.now();
    const refused = await Promise.all(
      Array.from({ length: options.refusedFlood }, async () => {
        const { url } = target.withToken("not.a.jwt");
        try {
          const ws = new WebSocket(url);
          return await new Promise<number>((resolve) => {
            const timer = setTimeout(() => resolve(-1), 15_000);
            ws.addEventListener("close", (ev) => {
              clearTimeout(timer);
              resolve((ev as CloseEvent).code);
            });
          });
        } catch {
          return -2;
        }
      }),
    );
    f.samplePeak();
    const codes: Record<string, number> = {};
    for (const c of refused) codes[c] = (codes[c] ?? 0) + 1;
    const ok = (codes["4401"] ?? 0) === options.refusedFlood;
    f.results.push({ name: `${options.refusedFlood} refused upgrades at once → 4401 each`, ok, detail: ok ? "" : JSON.stringify(codes) });
    f.notes.push(`${options.refusedFlood} refused upgrades took ${Math.round(performance.now() - started)} ms`);
    const sockets = await Promise.all(
      Array.from({ length: options.halfOpenUpgrades }, () => {
        const sock = connectTcp(target.port, "127.0.0.1");
        sock.on("error", () => undefined);
        sock.write(`GET /wse HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n`);
        return sock;
      }),
    );
    await f.run(`a normal client while ${options.halfOpenUpgrades} half-sent upgrades are held open`, [JSON.stringify({ c: "WSE", t: "ping", p: { timestamp: 3 } })], { minErrors: 0 });
    for (const sock of sockets) sock.destroy();
  }

  // Sustained garbage still closes 4400 after all of the above.
  await f.run("sustained garbage → 4400", Array.from({ length: 60 }, () => "{garbage"), { minErrors: 0, closeCodes: [4400], check: (c) => (c.closeInfo?.code === 4400 ? null : "connection survived 60 garbage frames") });

  // Verdict.
  const by = await bystander.finish();
  const healthReport = await health.stop();
  const settleStart = Date.now();
  const limitKiB = baselineKiB + Math.max(options.rssToleranceKiB, baselineKiB * options.rssToleranceRatio);
  // Wait (up to 10 s) for RSS to come within 16 MiB of the baseline; the verdict uses the generous limit.
  let afterKiB = target.rssKiB();
  while (afterKiB > baselineKiB + 16 * 1024 && Date.now() - settleStart < 10_000) {
    await sleep(1000);
    afterKiB = target.rssKiB();
  }
  const samePid = (() => {
    try {
      return target.pid() === pid;
    } catch {
      return false;
    }
  })();
  const failed = f.results.filter((r) => !r.ok);
  const pass = failed.length === 0 && by.problems.length === 0 && healthReport.failures === 0 && samePid && afterKiB <= limitKiB;
  return {
    pass,
    seed: options.seed,
    cases: f.results.length,
    failed,
    bystander: { problems: by.problems, received: by.received },
    health: healthReport,
    rss: { baselineMiB: mib(baselineKiB), peakMiB: mib(f.peakKiB), afterMiB: mib(afterKiB), limitMiB: mib(limitKiB), settledMs: Date.now() - settleStart },
    samePid,
    errorCodes: f.errorCodes,
    closeCodes: f.closeCodes,
    notes: f.notes,
  };
}

if (import.meta.main) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const seed = Number(arg("seed") ?? Date.now() % 1_000_000);
  const target = await startHardTarget({ clientPublish: true });
  try {
    const result = await runFrameFuzz(target, { ...CI_FUZZ, seed, mutationRounds: Number(arg("rounds") ?? 200), topicChurnConnections: Number(arg("churn") ?? 100), refusedFlood: Number(arg("flood") ?? 2000), halfOpenUpgrades: Number(arg("half-open") ?? 1000) });
    report("frame-fuzz", result.pass, result as unknown as Record<string, unknown>);
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
