/**
 * Pool failover across two real server processes sharing one real Redis: the client's server is
 * SIGKILLed mid-stream, the client fails over to the other endpoint and recovers what it missed
 * from the shared history (`recovered:true`) — no gap, no duplicate, no discontinuity.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect, type WSEEvent } from "../../client/mod.ts";
import { type RedisTestServer, startRedisServer } from "../../scripts/redis-test-server.ts";
import { mintToken, publish, type ServerProcess, startServer, streamProblems, waitFor } from "./support.ts";

let redis: RedisTestServer;
let servers: ServerProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  servers = await Promise.all([startServer({ args: ["--redis", redis.url] }), startServer({ args: ["--redis", redis.url] })]);
}, 30_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.kill()));
  await redis?.stop();
});

test("kill the endpoint in use: failover to the other node, recovered:true, stream whole", async () => {
  const [a, b] = servers;
  const client = await connect(undefined, {
    endpoints: [a.url, b.url],
    loadBalancing: "round-robin",
    token: await mintToken("alice"),
    topics: ["fo.stream"],
    reconnect: { baseDelay: 100, maxDelay: 300, jitter: false },
  });
  const events: WSEEvent[] = [];
  client.onAny((e) => events.push(e));
  const data = () => events.filter((e) => e.topic === "fo.stream" && e.category === "U");
  const inUse = servers.find((s) => s.url === client.url)!;
  const other = servers.find((s) => s !== inUse)!;
  for (let i = 0; i < 5; i++) await publish(other, "fo.stream", "n", { i });
  await waitFor(() => data().length === 5, 5000, "first events (fanned out through Redis)");
  await inUse.kill("SIGKILL");
  await waitFor(() => client.state !== "ready", 5000, "the drop");
  for (let i = 5; i < 10; i++) await publish(other, "fo.stream", "n", { i });
  await waitFor(() => client.state === "ready", 10_000, "ready on the other node");
  expect(client.url).toBe(other.url);
  await waitFor(() => data().length === 10, 8000, "recovered events");
  for (let i = 10; i < 13; i++) await publish(other, "fo.stream", "n", { i });
  await waitFor(() => data().length === 13, 5000, "live events");
  expect(data().map((e) => e.payload.i)).toEqual([...Array(13).keys()]);
  expect(streamProblems(events, "fo.stream")).toEqual([]);
  expect(events.some((e) => e.type === "discontinuity")).toBe(false);
  const recovery = events.find((e) => e.type === "recovery");
  expect(recovery?.payload).toMatchObject({ topic: "fo.stream", recovered: true });
  const pool = client.getStats().connectionPool!;
  expect(pool.find((p) => p.url === inUse.url)!.failures).toBeGreaterThanOrEqual(1);
  expect(pool.find((p) => p.url === other.url)!.active).toBe(1);
  await client.close();
}, 40_000);

test("changeEndpoint moves the connection to another node and recovers there", async () => {
  // The previous test killed one node; restart it so two are up.
  const dead = servers.findIndex((s) => !s.alive());
  if (dead >= 0) servers[dead] = await startServer({ port: servers[dead].port, args: ["--redis", redis.url] });
  const [a, b] = servers;
  const client = await connect(a.url, { token: await mintToken("carol"), topics: ["fo.move"] });
  const events: WSEEvent[] = [];
  client.onAny((e) => events.push(e));
  const data = () => events.filter((e) => e.topic === "fo.move" && e.category === "U");
  for (let i = 0; i < 3; i++) await publish(a, "fo.move", "n", { i });
  await waitFor(() => data().length === 3, 5000, "events on node A");
  client.changeEndpoint(b.url);
  for (let i = 3; i < 6; i++) await publish(b, "fo.move", "n", { i });
  await waitFor(() => client.url === b.url && client.state === "ready", 5000, "ready on node B");
  await waitFor(() => data().length === 6, 5000, "all events");
  expect(data().map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4, 5]);
  expect(streamProblems(events, "fo.move")).toEqual([]);
  await client.close();
}, 40_000);
