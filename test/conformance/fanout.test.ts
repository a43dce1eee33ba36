/**
 * Fan-out across wire variants (PROTOCOL.md §3, §6): many subscribers of one topic, some plain
 * JSON, some msgpack, some zstd, some encrypted, all receive every publication exactly once, in
 * order, each in its own wire form, while publications of mixed sizes arrive concurrently.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { onTopic, type WireClient } from "./wire.ts";

const target = await startTarget({ rateLimitCapacity: 10_000, rateLimitRefill: 10_000 });
afterAll(() => target.stop());
const pool = new ClientPool();

type Variant = "json" | "msgpack" | "zstd" | "encrypted";
const VARIANTS: Variant[] = ["json", "msgpack", "zstd", "encrypted"];

async function open(variant: Variant, i: number): Promise<WireClient> {
  return connectReady(pool, target, {
    claims: { sub: `fan-${variant}-${i}` },
    query: variant === "msgpack" ? { format: "msgpack" } : undefined,
    features: variant === "zstd" ? { zstd: true } : undefined,
    encryption: variant === "encrypted",
  });
}

/** The wire form a publication must take for a variant, by whether its JSON is large. */
function expectedKind(variant: Variant, large: boolean): string {
  if (variant === "msgpack") return "M";
  if (variant === "encrypted") return "E";
  if (!large) return "text";
  return variant === "zstd" ? "Z" : "C";
}

describe("fan-out across variants", () => {
  testWith(
    target,
    ["jwt", "api"],
    "80 subscribers in four wire forms each get all 120 publications once, in order, in their own form",
    async () => {
      const topic = uniqueTopic("fan");
      const clients: { variant: Variant; client: WireClient }[] = [];
      for (const variant of VARIANTS) {
        for (let i = 0; i < 20; i++) clients.push({ variant, client: await open(variant, i) });
      }
      await Promise.all(clients.map(({ client }) => client.subscribe([topic])));

      const COUNT = 120;
      const large = (n: number) => n % 3 === 0;
      const payload = (n: number) => (large(n) ? { n, text: `payload ${n} `.repeat(200) } : { n });
      // Four concurrent publishers; the stream order is the offset order, whatever the timing.
      let next = 0;
      const byOffset = new Map<number, number>();
      await Promise.all(
        [0, 1, 2, 3].map(async () => {
          while (next < COUNT) {
            const n = next++;
            const pos = await target.publish(topic, "fan", payload(n));
            byOffset.set(pos.offset, n);
          }
        }),
      );
      expect(byOffset.size).toBe(COUNT);

      for (const { variant, client } of clients) {
        const frames = await client.waitForCount(onTopic(topic), COUNT, 15_000);
        expect(frames.length).toBe(COUNT);
        expect(frames.map((f) => f.envelope!.o)).toEqual(Array.from({ length: COUNT }, (_, i) => i));
        for (const f of frames) {
          const n = byOffset.get(f.envelope!.o as number)!;
          expect((f.envelope!.p as { n: number }).n).toBe(n);
          expect({ variant, o: f.envelope!.o, kind: f.kind as string }).toEqual({ variant, o: f.envelope!.o, kind: expectedKind(variant, large(n)) });
        }
      }
      // One id per publication, the same across all variants.
      const ids = clients.map(({ client }) => client.frames.filter(onTopic(topic)).map((f) => f.envelope!.id).join(","));
      expect(new Set(ids).size).toBe(1);
    },
    60_000,
  );
});
