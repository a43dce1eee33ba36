/**
 * PROTOCOL.md §7 slow consumer: subscribers that stop reading (raw TCP WebSockets whose sockets
 * are paused, so the kernel buffers and then the server's buffer fill) are closed with 4008 —
 * one per fan-out path (plain JSON, msgpack, per-connection encryption) — while a normal
 * subscriber of the same topic receives every publication in order and another connection keeps
 * getting its PONGs.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { KeyExchange } from "./frames.ts";
import { RawWebSocket } from "./raw-socket.ts";
import { ofType, onTopic } from "./wire.ts";

const target = await startTarget({ backpressureLimitBytes: 512 * 1024 });
afterAll(() => target.stop());
const pool = new ClientPool();

/** About 64 KiB of base64 text that zlib cannot shrink much. */
function incompressible(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48 * 1024))).toString("base64");
}

type Variant = "plain" | "msgpack" | "encrypted";

/** Opens a raw subscriber of `topic` in the given wire form, then stops reading. */
async function stalledSubscriber(variant: Variant, topic: string): Promise<RawWebSocket> {
  const { url, headers } = target.withToken(await target.mintToken({ sub: `slow-${variant}` }), variant === "msgpack" ? { format: "msgpack" } : {});
  const raw = await RawWebSocket.open(url, headers);
  const seen = (t: string) => raw.until(() => raw.jsonMessages().some((m) => m.t === t), 5000);
  expect(await seen("server_ready")).toBe(true);
  const p: Record<string, unknown> = { client_version: "raw", protocol_version: 2, features: { encryption: variant === "encrypted" } };
  if (variant === "encrypted") p.encryption_public_key = (await KeyExchange.create()).publicKeyBase64;
  raw.sendText(JSON.stringify({ c: "WSE", t: "client_hello", v: 1, p }));
  expect(await seen("server_hello")).toBe(true);
  if (variant === "encrypted") {
    const hello = raw.jsonMessages().find((m) => m.t === "server_hello") as { p: { features: { encryption: boolean } } };
    expect(hello.p.features.encryption).toBe(true);
  }
  const before = raw.messages.length;
  // With presence, the server's presence_leave tells the test when it cut this subscriber.
  raw.sendText(JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic], presence: { variant } } }));
  // The reply may be text, M: or E: depending on the form; any new message means it was handled.
  expect(await raw.until(() => raw.messages.length > before, 5000)).toBe(true);
  raw.pause();
  return raw;
}

describe("slow consumer", () => {
  testWith(
    target,
    ["jwt", "api", "small-backpressure"],
    "stalled subscribers (plain, msgpack, encrypted) are closed 4008; a normal subscriber gets everything; pings still answered",
    async () => {
      const topic = uniqueTopic("slow");
      const normal = await connectReady(pool, target, { claims: { sub: "normal" } });
      await normal.subscribe([topic]);
      const pinger = await connectReady(pool, target, { claims: { sub: "pinger" } });

      const stalled = new Map<Variant, RawWebSocket>();
      try {
        for (const v of ["plain", "msgpack", "encrypted"] as const) stalled.set(v, await stalledSubscriber(v, topic));

        // Publish ~64 KiB events until every stalled subscriber was cut (seen as presence_leave
        // when presence is on; loopback buffers differ between machines), or 300 without
        // presence; bounded at 1500 (~70 MiB).
        const usePresence = target.caps.has("presence");
        const allCut = () => normal.frames.filter(ofType("presence_leave")).length >= stalled.size;
        let count = 0;
        let last = -1;
        let pings = 0;
        while (count < 1500 && (usePresence ? !allCut() : count < 300)) {
          last = (await target.publish(topic, "bulk", { i: count, blob: incompressible() })).offset;
          if (count % 30 === 0) {
            pinger.send({ c: "WSE", t: "ping", p: { timestamp: count } });
            pings++;
          }
          count++;
        }
        const COUNT = count;
        expect(last).toBe(COUNT - 1);
        if (usePresence) expect(allCut()).toBe(true);
        await pinger.waitForCount(ofType("PONG"), pings, 10_000);

        await normal.waitFor((f) => f.envelope?.tp === topic && f.envelope.o === last, 30_000, 0, `offset ${last}`);
        const offsets = normal.frames.filter(onTopic(topic)).map((f) => f.envelope!.o);
        expect(offsets).toEqual(Array.from({ length: COUNT }, (_, i) => i));
        expect(normal.closeInfo).toBeNull();

        for (const [variant, raw] of stalled) {
          raw.resume();
          await raw.until(() => raw.ended || raw.closeCode !== null, 15_000);
          expect({ variant, code: raw.closeCode }).toEqual({ variant, code: 4008 });
        }
      } finally {
        for (const raw of stalled.values()) raw.destroy();
      }
    },
    90_000,
  );
});
