/**
 * `bun server/main.ts --redis <url>`: two server processes sharing one real redis-server behave
 * as one service — a publication sent over HTTP to node A reaches a subscriber on node B, and
 * node B's history holds it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startRedisServer, type RedisTestServer } from "../../scripts/redis-test-server.ts";
import { apiPublish, handshake, ROOT, sleep, spawnServer, subscribe, type ServerProcess } from "./scenario.ts";

const apiKey = "redis-cli-api-key";
let redis: RedisTestServer;
const nodes: ServerProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
}, 20_000);

afterAll(async () => {
  for (const node of nodes) await node.stop(3000);
  await redis?.stop();
}, 30_000);

describe("--redis", () => {
  test("two nodes share fan-out and history", async () => {
    for (let i = 0; i < 2; i++) {
      nodes.push(await spawnServer([process.execPath, `${ROOT}server/main.ts`, "--redis", redis.url], { WSE_API_KEY: apiKey }));
    }
    const [a, b] = nodes as [ServerProcess, ServerProcess];
    expect(a.output()).toContain('"broker":"redis"');

    const { client } = await handshake(b.wsUrl);
    const topic = `cluster.${crypto.randomUUID().slice(0, 8)}`;
    expect((await subscribe(client, [topic])).p.success).toBe(true);

    const published = await apiPublish(a.httpUrl, apiKey, { topic, type: "cross_node", payload: { from: "a" } });
    expect(published.status).toBe(200);
    const event = await client.waitFor((e) => e.tp === topic, "publication from the other node", 10_000);
    expect(event).toMatchObject({ t: "cross_node", p: { from: "a" }, e: published.body.epoch, o: published.body.offset });

    const history = await fetch(`${b.httpUrl}/api/history/${topic}`, { headers: { authorization: `Bearer ${apiKey}` } });
    const body = await history.json();
    expect(body.publications.map((p: { offset: number }) => p.offset)).toEqual([published.body.offset]);
    client.close();
  }, 60_000);

  test("/health turns degraded (503) while Redis is down and ok again when it is back", async () => {
    const node = nodes[0]!;
    const health = async () => {
      const res = await fetch(`${node.httpUrl}/health`);
      return { status: res.status, body: await res.json() };
    };
    const until = async (want: number) => {
      for (let i = 0; i < 200; i++) {
        const h = await health();
        if (h.status === want) return h;
        await sleep(50);
      }
      throw new Error(`/health never answered ${want}`);
    };
    expect((await health()).status).toBe(200);
    await redis.stop();
    const down = await until(503);
    expect(down.body.status).toBe("degraded");
    const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^wse_broker_healthy 0$/m);
    await redis.start();
    const up = await until(200);
    expect(up.body.status).toBe("ok");
  }, 30_000);
});
