/**
 * A Bun node and a Deno node (`server/main.ts` and `server/deno.ts`, the same flags) on one
 * Redis are one service: publications cross between them in both directions with one offset
 * sequence, a client moved from the Bun node to the Deno node recovers with no gap and no
 * duplicate, and presence joins/leaves cross too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import { type ClusterNode, eventually, publishVia, startNode, stopNode, tokenFor } from "./cluster-kit.ts";
import { WsClient } from "./ws-client.ts";

let redis: RedisTestServer;
let bunNode: ClusterNode;
let denoNode: ClusterNode;
const clients: WsClient[] = [];

async function connect(node: ClusterNode, user: string): Promise<WsClient> {
  const client = await WsClient.connect(`${node.ws}?token=${await tokenFor(user)}`);
  clients.push(client);
  return client;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeAll(async () => {
  redis = await startRedisServer();
  [bunNode, denoNode] = await Promise.all([
    startNode("bun", redis.url, [], "bun"),
    startNode("deno", redis.url, [], "deno"),
  ]);
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {});
  await Promise.all([bunNode, denoNode].filter(Boolean).map((node) => stopNode(node)));
  await redis?.stop();
}, 60_000);

describe("Bun and Deno nodes sharing one Redis", () => {
  test("publications cross both ways; a client moved from Bun to Deno recovers exactly", async () => {
    const topic = `mixed.${crypto.randomUUID().slice(0, 8)}`;
    const onBun = await connect(bunNode, "mover");
    const onDeno = await connect(denoNode, "watcher");
    expect((await onBun.subscribe([topic])).success).toBe(true);
    expect((await onDeno.subscribe([topic])).success).toBe(true);
    for (let i = 0; i < 10; i++) await publishVia(i % 2 ? denoNode : bunNode, topic, { i });
    await eventually(() => onBun.offsets(topic).length === 10 && onDeno.offsets(topic).length === 10, 10_000, "both nodes");
    expect(onBun.offsets(topic)).toEqual(range(0, 9));
    expect(onDeno.offsets(topic)).toEqual(range(0, 9));

    await onBun.close();
    const last = onBun.position(topic)!;
    for (let i = 10; i < 20; i++) await publishVia(bunNode, topic, { i });
    const moved = await connect(denoNode, "mover");
    const reply = await moved.subscribe([topic], { recovery: { [topic]: last } });
    expect((reply.recovery as Record<string, Record<string, unknown>>)[topic]).toMatchObject({ recovered: true, count: 10 });
    await publishVia(bunNode, topic, { i: 20 });
    await eventually(() => moved.offsets(topic).length === 11, 10_000, "recovered + live on Deno");
    expect([...onBun.offsets(topic), ...moved.offsets(topic)]).toEqual(range(0, 20));
  }, 60_000);

  test("presence joins and leaves cross between the Bun and the Deno node", async () => {
    const topic = `mixed-presence.${crypto.randomUUID().slice(0, 8)}`;
    const watcher = await connect(bunNode, "observer");
    expect((await watcher.subscribe([topic])).success).toBe(true);
    const member = await connect(denoNode, "carol");
    expect((await member.subscribe([topic], { presence: { mood: "ok" } })).success).toBe(true);
    const events = () =>
      watcher.messages.filter((m) => String(m.t).startsWith("presence_") && m.p?.topic === topic).map((m) => [m.t, m.p?.user_id, m.p?.data]);
    await eventually(() => events().length === 1, 10_000, "join from the Deno node");
    await member.close();
    await eventually(() => events().length === 2, 10_000, "leave from the Deno node");
    expect(events()).toEqual([["presence_join", "carol", { mood: "ok" }], ["presence_leave", "carol", { mood: "ok" }]]);
  }, 60_000);
});
