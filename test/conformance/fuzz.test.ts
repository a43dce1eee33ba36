/**
 * Seeded fuzzing of the inbound side (PROTOCOL.md §7 "bad input never crashes or stalls
 * anything"): connections send random bytes, random prefixes, mutated envelopes and well-formed
 * envelopes with hostile values (odd topics, odd positions, nested batches, huge numbers). Each
 * connection must afterwards either answer a ping or have been closed with a protocol code
 * (4400/4429), the server must stay healthy, and a bystander's stream must stay gapless.
 * The seed is printed; `WSE_CONFORMANCE_SEED=<n>` replays a run.
 */
import { afterAll, describe, expect } from "bun:test";
import { deflateSync } from "node:zlib";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { ClientPool, connectReady, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { utf8, withPrefix } from "./frames.ts";
import { onTopic, sleep, type WireClient } from "./wire.ts";

const target = await startTarget({ clientPublish: true });
afterAll(() => target.stop());
const pool = new ClientPool();

const SEED = Number(process.env.WSE_CONFORMANCE_SEED ?? Date.now() % 1_000_000);
console.warn(`[conformance] fuzz seed ${SEED} (WSE_CONFORMANCE_SEED=${SEED} replays it)`);

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  constructor(private readonly r: () => number) {}
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
  string(): string {
    return this.pick([
      "",
      "a",
      "x".repeat(this.int(400)),
      "\u0000\u0001",
      "topic.*",
      "🙂".repeat(70),
      "__proto__",
      "constructor",
      String.fromCharCode(...Array.from({ length: 8 }, () => this.int(0xffff))),
    ]);
  }
  value(depth = 0): unknown {
    const k = this.int(depth > 4 ? 6 : 9);
    switch (k) {
      case 0:
        return null;
      case 1:
        return this.pick([0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER]);
      case 2:
        return this.string();
      case 3:
        return this.r() < 0.5;
      case 4:
        return [];
      case 5:
        return {};
      case 6:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = 0; i < this.int(4); i++) o[this.string()] = this.value(depth + 1);
        return o;
      }
    }
  }
  envelope(depth = 0): Record<string, unknown> {
    const t = this.pick([
      "subscription_update",
      "subscription",
      "publish",
      "presence_update",
      "presence_request",
      "sync_request",
      "batch",
      "client_hello",
      "ping",
      "PONG",
      "app_message",
      "",
    ]);
    const p: Record<string, unknown> = {};
    switch (t) {
      case "subscription_update":
      case "subscription":
        p.action = this.pick(["subscribe", "unsubscribe", "bogus", 7]);
        p.topics = this.pick([[this.string()], this.value(), Array.from({ length: this.int(200) }, () => this.string())]);
        if (this.r() < 0.5) p.recover = this.value();
        if (this.r() < 0.5) p.recovery = this.pick([this.value(), { [this.string()]: { epoch: this.pick(["0000beef", "zz", 5]), offset: this.value() } }]);
        if (this.r() < 0.3) p.presence = this.value();
        break;
      case "publish":
        p.topic = this.string();
        p.type = this.pick(["message", "", this.string()]);
        p.payload = this.value();
        break;
      case "batch":
        p.messages = depth < 3 ? Array.from({ length: this.int(5) }, () => (this.r() < 0.8 ? this.envelope(depth + 1) : this.value())) : this.value();
        p.count = this.value();
        break;
      case "client_hello":
        p.protocol_version = this.value();
        p.features = this.value();
        if (this.r() < 0.5) p.encryption_public_key = this.pick([this.string(), Buffer.from(this.bytes(65)).toString("base64")]);
        break;
      default:
        Object.assign(p, this.value() as object);
    }
    const env: Record<string, unknown> = { t, p: this.r() < 0.9 ? p : this.value() };
    if (this.r() < 0.5) env.c = this.pick(["WSE", "U", "S", this.string()]);
    if (this.r() < 0.3) env.cid = this.value();
    if (this.r() < 0.2) env.id = this.value();
    return env;
  }
  frame(): string | Uint8Array {
    const json = JSON.stringify(this.envelope());
    switch (this.int(9)) {
      case 0:
        return this.bytes(this.int(200));
      case 1:
        return withPrefix(this.pick(["C:", "Z:", "M:", "E:", "X:", "{:"]), this.bytes(this.int(200)));
      case 2:
        return json.slice(0, this.int(json.length));
      case 3: {
        const b = utf8(json);
        if (b.length) b[this.int(b.length)] = this.int(256);
        return b;
      }
      case 4:
        return withPrefix("C:", deflateSync(utf8(json)));
      case 5:
        return withPrefix("M:", msgpackEncode(this.envelope(), { maxDepth: 1000 }));
      case 6:
        return this.pick(["WSE", "S", "U"]) + json;
      default:
        return json;
    }
  }
}

describe("fuzzed inbound frames", () => {
  testWith(
    target,
    ["jwt", "api"],
    "random and hostile frames on 40 connections: no crash, no stall, protocol close codes only, bystander gapless",
    async () => {
      const gen = new Gen(prng(SEED));
      const streamTopic = uniqueTopic("fuzz-bystander");
      const bystander = await connectReady(pool, target, { claims: { sub: "fuzz-bystander" } });
      await bystander.subscribe([streamTopic]);
      let publishing = true;
      let top = -1;
      const publisher = (async () => {
        for (let i = 0; publishing && i < 2000; i++) {
          top = (await target.publish(streamTopic, "tick", { i })).offset;
          await sleep(10);
        }
      })();

      const outcomes: string[] = [];
      try {
        for (let c = 0; c < 40; c++) {
          const client: WireClient = await connectReady(pool, target, { claims: { sub: `fuzzer-${c}` } });
          const sent: (string | Uint8Array)[] = [];
          for (let i = 0; i < 25 && !client.closeInfo; i++) {
            const frame = gen.frame();
            sent.push(frame);
            client.sendRaw(frame);
          }
          const since = client.mark();
          if (!client.closeInfo) client.send({ c: "WSE", t: "ping", p: { timestamp: c } });
          const answered = await client
            .waitFor((f) => f.envelope?.t === "PONG" && (f.envelope.p as { client_timestamp?: number })?.client_timestamp === c, 5000, since)
            .then(() => true)
            .catch(() => false);
          const code = client.closeInfo?.code;
          const outcome = answered ? "pong" : code !== undefined ? `closed ${code}` : "stalled";
          outcomes.push(outcome);
          if (!(answered || code === 4400 || code === 4429)) {
            const shown = sent.map((f) => (typeof f === "string" ? JSON.stringify(f.slice(0, 120)) : `bytes[${f.length}] ${Buffer.from(f.subarray(0, 24)).toString("hex")}`));
            throw new Error(`connection ${c} (seed ${SEED}): ${outcome}; it sent:\n${shown.join("\n")}\nserver log:\n${target.logs()}`);
          }
          await client.close();
        }
      } finally {
        publishing = false;
        await publisher;
      }
      console.warn(`[conformance] fuzz outcomes: ${JSON.stringify(countBy(outcomes))}`);

      const health = await fetch(`${target.httpUrl}/health`);
      expect(health.status).toBe(200);
      const fresh = await connectReady(pool, target, { claims: { sub: "after-fuzz" } });
      expect(fresh.closeInfo).toBeNull();
      await bystander.waitFor((f) => f.envelope?.tp === streamTopic && f.envelope.o === top, 10_000, 0, `offset ${top}`);
      expect(bystander.frames.filter(onTopic(streamTopic)).map((f) => f.envelope!.o)).toEqual(Array.from({ length: top + 1 }, (_, i) => i));
    },
    120_000,
  );
});

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
