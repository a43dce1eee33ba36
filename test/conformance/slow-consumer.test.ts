/**
 * PROTOCOL.md §7 slow consumer: a subscriber that stops reading (a raw TCP WebSocket whose socket
 * is paused, so the kernel buffers and then the server's buffer fill) is closed with 4008, and a
 * normal subscriber of the same topic still receives every publication in order.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { RawWebSocket } from "./raw-socket.ts";
import { onTopic } from "./wire.ts";

const target = await startTarget({ backpressureLimitBytes: 512 * 1024 });
afterAll(() => target.stop());
const pool = new ClientPool();

/** About 64 KiB of base64 text that zlib cannot shrink much. */
function incompressible(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(48 * 1024))).toString("base64");
}

describe("slow consumer", () => {
  testWith(
    target,
    ["jwt", "api", "small-backpressure"],
    "a subscriber that stops reading is closed 4008; a normal subscriber gets everything",
    async () => {
      const topic = uniqueTopic("slow");
      const normal = await connectReady(pool, target, { claims: { sub: "normal" } });
      await normal.subscribe([topic]);

      const { url, headers } = target.withToken(await target.mintToken({ sub: "slow" }));
      const slow = await RawWebSocket.open(url, headers);
      try {
        expect(await slow.until(() => slow.jsonMessages().some((m) => m.t === "server_ready"), 5000)).toBe(true);
        slow.sendText(JSON.stringify({ c: "WSE", t: "client_hello", v: 1, p: { client_version: "raw", protocol_version: 2, features: {} } }));
        slow.sendText(JSON.stringify({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic] } }));
        expect(await slow.until(() => slow.jsonMessages().some((m) => m.t === "subscription_update"), 5000)).toBe(true);
        slow.pause();

        const COUNT = 300;
        let last = -1;
        for (let i = 0; i < COUNT; i++) last = (await target.publish(topic, "bulk", { i, blob: incompressible() })).offset;
        expect(last).toBe(COUNT - 1);

        await normal.waitFor((f) => f.envelope?.tp === topic && f.envelope.o === last, 30_000, 0, `offset ${last}`);
        const offsets = normal.frames.filter(onTopic(topic)).map((f) => f.envelope!.o);
        expect(offsets).toEqual(Array.from({ length: COUNT }, (_, i) => i));
        expect(normal.closeInfo).toBeNull();

        slow.resume();
        await slow.until(() => slow.ended || slow.closeCode !== null, 15_000);
        expect(slow.closeCode).toBe(4008);
        const slowGot = slow.messages.filter((m) => m.opcode === 2 || m.text?.includes('"bulk"')).length;
        expect(slowGot).toBeLessThan(COUNT);
      } finally {
        slow.destroy();
      }
    },
    90_000,
  );
});
