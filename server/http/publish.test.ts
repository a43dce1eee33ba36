/**
 * `POST /api/publish` (fast path) and `POST /api/publish/batch` against a real server on
 * loopback: requests over real HTTP (bodies with a Content-Length) and through `app.request()`
 * (bodies without one, streamed), effects observed by real WebSocket clients.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MemoryBroker } from "../broker/memory.ts";
import { createServer } from "../mod.ts";
import { silentLogger } from "../log.ts";
import type { WseServer } from "../types.ts";
import { handshake, subscribe, type TestClient } from "../../test/exe/scenario.ts";
import { createHttpApp, PUBLISH_BATCH_PATH, PUBLISH_PATH } from "./app.ts";

const API_KEY = "publish-test-api-key-0123456789";
const MAX_MESSAGES = 5;
const MAX_BATCH_BYTES = 8 * 1024;
let server: WseServer;
let wsUrl: string;
let httpUrl: string;
let app: ReturnType<typeof createHttpApp>;
const clients: TestClient[] = [];

beforeAll(async () => {
  server = createServer({
    host: "127.0.0.1",
    port: 0,
    apiKey: API_KEY,
    logger: silentLogger,
    maxMessageSize: 4 * 1024,
    publishBatch: { maxMessages: MAX_MESSAGES, maxBytes: MAX_BATCH_BYTES },
  });
  const info = await server.listen();
  wsUrl = info.url.replace("0.0.0.0", "127.0.0.1");
  httpUrl = `http://127.0.0.1:${info.port}`;
  app = createHttpApp(server, server.options);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.stop();
});

const auth = { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" };
const bodyOf = (body: unknown) => (typeof body === "string" ? body : JSON.stringify(body));
/** Over real HTTP: the body has a Content-Length. */
const httpPost = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  fetch(`${httpUrl}${path}`, { method: "POST", headers, body: bodyOf(body) });
/** In process: the body is a stream without a Content-Length. */
const appPost = (path: string, body: unknown, headers: Record<string, string> = auth) =>
  app.request(path, { method: "POST", headers, body: bodyOf(body) });
const topicName = (prefix: string) => `${prefix}.${crypto.randomUUID().slice(0, 8)}`;

async function connect(topics: string[]): Promise<TestClient> {
  const { client } = await handshake(wsUrl);
  clients.push(client);
  expect((await subscribe(client, topics)).p.success).toBe(true);
  return client;
}

async function answer(response: Response): Promise<{ status: number; headers: Record<string, string>; body: unknown }> {
  const headers = Object.fromEntries(response.headers);
  delete headers.date; // the clock may tick between two requests
  return { status: response.status, headers, body: await response.json() };
}

describe("POST /api/publish fast path", () => {
  test("answers exactly as the router does (a spelling only the router matches) for good and bad requests", async () => {
    const topic = topicName("same");
    const cases: [unknown, Record<string, string>][] = [
      [{ topic, type: "t", payload: { a: 1 }, id: "same-1" }, auth],
      [{ topic, type: "t", payload: { a: 1 }, id: "same-1" }, auth],
      ["{not json", auth],
      [[1], auth],
      [{ topic: "", type: "t", payload: {} }, auth],
      [{ topic, type: "t", payload: 5 }, auth],
      [{ topic, type: "t", payload: {}, priority: 0 }, auth],
      [{ topic, type: "t", payload: {}, correlation_id: "c".repeat(300) }, auth],
      [{ topic, type: "t", payload: "y".repeat(5000) }, auth],
      [{ topic, type: "t", payload: {} }, { authorization: "Bearer wrong" }],
      [{ topic, type: "t", payload: {} }, {}],
    ];
    for (const [body, headers] of cases) {
      const fast = await answer(await httpPost(PUBLISH_PATH, body, headers));
      const routed = await answer(await httpPost("/api/%70ublish", body, headers));
      expect(fast).toEqual(routed);
    }
    const duplicate = await answer(await httpPost(PUBLISH_PATH, { topic, type: "t", payload: { a: 1 }, id: "same-1" }));
    expect(duplicate).toEqual({ status: 200, headers: { "content-type": "application/json", "content-length": expect.any(String) }, body: { epoch: expect.any(String), offset: 0 } });
  });

  test("401 carries WWW-Authenticate; a query string still takes the fast path", async () => {
    const refused = await httpPost(PUBLISH_PATH, { topic: "t", type: "x", payload: {} }, { authorization: "Bearer nope" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="wse"');
    expect(await refused.json()).toEqual({ error: "UNAUTHORIZED", message: "missing or wrong API key (Authorization: Bearer <key>)" });
    const topic = topicName("query");
    const res = await httpPost(`${PUBLISH_PATH}?source=test`, { topic, type: "t", payload: {} });
    expect(await res.json()).toEqual({ epoch: expect.stringMatching(/^[0-9a-f]{8}$/), offset: 0 });
  });

  test("body limit: 413 by Content-Length, and for a streamed body once it passes the limit", async () => {
    const big = { topic: "t", type: "x", payload: { pad: "z".repeat(5000) } };
    for (const res of [await httpPost(PUBLISH_PATH, big), await appPost(PUBLISH_PATH, big)]) {
      expect(res.status).toBe(413);
      expect((await res.json()).error).toBe("BODY_TOO_LARGE");
    }
    const lying = await app.request(PUBLISH_PATH, {
      method: "POST",
      headers: { ...auth, "content-length": "10" },
      body: JSON.stringify(big),
    });
    expect(lying.status).toBe(413);
  });

  test("a body that is not UTF-8 → 400 INVALID_JSON, over HTTP and streamed", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"topic":"t","type":"x","payload":{"a":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}}')]);
    for (const res of [
      await fetch(`${httpUrl}${PUBLISH_PATH}`, { method: "POST", headers: auth, body: bytes }),
      await app.request(PUBLISH_PATH, { method: "POST", headers: auth, body: bytes }),
    ]) {
      expect(res.status).toBe(400);
      expect((await res.json()).error).toBe("INVALID_JSON");
    }
  });

  test("other methods and paths are not taken for a publish", async () => {
    expect((await fetch(`${httpUrl}${PUBLISH_PATH}`, { headers: auth })).status).toBe(404);
    expect((await httpPost(`${PUBLISH_PATH}/`, { topic: "t", type: "x", payload: {} })).status).toBe(404);
    expect((await httpPost("/API/publish", { topic: "t", type: "x", payload: {} }, {})).status).toBe(404);
  });
});

describe("POST /api/publish/batch", () => {
  test("publishes every good message in order and reports each bad one in its place", async () => {
    const [a, b] = [topicName("ba"), topicName("bb")];
    const client = await connect([a, b]);
    const res = await httpPost(PUBLISH_BATCH_PATH, {
      messages: [
        { topic: a, type: "tick", payload: { n: 0 } },
        { topic: b, type: "tick", payload: { n: 1 }, priority: 8, correlation_id: "c-1" },
        { topic: "", type: "tick", payload: { n: 2 } },
        "not an object",
        { topic: a, type: "tick", payload: { n: 4 } },
      ],
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.succeeded).toBe(3);
    expect(body.failed).toBe(2);
    const epochOf = (i: number) => body.results[i].epoch as string;
    expect(body.results).toEqual([
      { epoch: expect.stringMatching(/^[0-9a-f]{8}$/), offset: 0 },
      { epoch: expect.stringMatching(/^[0-9a-f]{8}$/), offset: 0 },
      { error: "INVALID_TOPIC", message: "topic must not be empty" },
      { error: "INVALID_BODY", message: "each message must be a JSON object" },
      { epoch: epochOf(0), offset: 1 },
    ]);
    await client.waitFor((e) => e.tp === a && e.o === 1, "second publication on a");
    await client.waitFor((e) => e.tp === b && e.o === 0, "publication on b");
    const received = client.frames.filter((e) => e.tp === a || e.tp === b).map((e) => [e.tp, e.o, e.p.n]);
    expect(received).toEqual([[a, 0, 0], [b, 0, 1], [a, 1, 4]]);
  });

  test("ids deduplicate within a batch and against single publishes", async () => {
    const topic = topicName("bid");
    const single = await (await httpPost(PUBLISH_PATH, { topic, type: "t", payload: {}, id: "x-1" })).json();
    const body = await (await appPost(PUBLISH_BATCH_PATH, {
      messages: [
        { topic, type: "t", payload: {}, id: "x-1" },
        { topic, type: "t", payload: {}, id: "x-2" },
        { topic, type: "t", payload: {}, id: "x-2" },
      ],
    })).json();
    expect(body.results).toEqual([single, { epoch: single.epoch, offset: 1 }, { epoch: single.epoch, offset: 1 }]);
    expect(body).toMatchObject({ succeeded: 3, failed: 0 });
    const history = await (await app.request(`/api/history/${topic}`, { headers: auth })).json();
    expect(history.publications.map((p: { offset: number }) => p.offset)).toEqual([0, 1]);
  });

  test("a batch that is not a batch, empty or too long is refused whole and publishes nothing", async () => {
    const topic = topicName("bad");
    const message = { topic, type: "t", payload: {} };
    const cases: [unknown, number, string][] = [
      ["{oops", 400, "INVALID_JSON"],
      [[message], 400, "INVALID_BODY"],
      [{ messages: message }, 400, "INVALID_BODY"],
      [{}, 400, "INVALID_BODY"],
      [{ messages: [] }, 400, "INVALID_BODY"],
      [{ messages: Array.from({ length: MAX_MESSAGES + 1 }, () => message) }, 413, "TOO_MANY_MESSAGES"],
      [{ messages: [{ ...message, payload: { pad: "p".repeat(MAX_BATCH_BYTES) } }] }, 413, "BODY_TOO_LARGE"],
    ];
    for (const [body, status, code] of cases) {
      for (const res of [await httpPost(PUBLISH_BATCH_PATH, body), await appPost(PUBLISH_BATCH_PATH, body)]) {
        expect({ code, status: res.status }).toEqual({ code, status });
        expect((await res.json()).error).toBe(code);
      }
    }
    const tooMany = await (await httpPost(PUBLISH_BATCH_PATH, cases[5]![0])).json();
    expect(tooMany.message).toBe(`at most ${MAX_MESSAGES} messages per batch, got ${MAX_MESSAGES + 1}`);
    const history = await (await app.request(`/api/history/${topic}`, { headers: auth })).json();
    expect(history.publications).toEqual([]);
  });

  test("needs the API key like every /api route", async () => {
    const body = { messages: [{ topic: "t", type: "x", payload: {} }] };
    expect((await httpPost(PUBLISH_BATCH_PATH, body, {})).status).toBe(401);
    expect((await httpPost(PUBLISH_BATCH_PATH, body, { authorization: `Bearer ${API_KEY}x` })).status).toBe(401);
    const disabled = createHttpApp(server, { ...server.options, apiKey: undefined });
    const res = await disabled.request(PUBLISH_BATCH_PATH, { method: "POST", headers: auth, body: JSON.stringify(body) });
    expect(res.status).toBe(403);
    expect((await res.json()).error).toBe("API_DISABLED");
  });

  test("when the broker fails, that message and the ones after it are answered UNAVAILABLE; earlier ones keep their results", async () => {
    const broker = new MemoryBroker({ sweepIntervalMs: 0 });
    const broken = createServer({ host: "127.0.0.1", port: 0, apiKey: API_KEY, logger: silentLogger, broker });
    const brokenApp = createHttpApp(broken, broken.options);
    await broker.close();
    const res = await brokenApp.request(PUBLISH_BATCH_PATH, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ messages: [{ topic: 7, type: "t", payload: {} }, { topic: "a", type: "t", payload: {} }, { topic: "b", type: "t", payload: {} }] }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ succeeded: 0, failed: 3 });
    expect(body.results.map((r: { error: string }) => r.error)).toEqual(["INVALID_TOPIC", "UNAVAILABLE", "UNAVAILABLE"]);
    expect(body.results[1].message).toBe(`${PUBLISH_BATCH_PATH}: broker is closed`);
    expect(body.results[2].message).toBe(`not attempted after an earlier failure: ${PUBLISH_BATCH_PATH}: broker is closed`);
    const single = await brokenApp.request(PUBLISH_PATH, { method: "POST", headers: auth, body: JSON.stringify({ topic: "a", type: "t", payload: {} }) });
    expect(single.status).toBe(503);
    expect(await single.json()).toEqual({ error: "UNAVAILABLE", message: `${PUBLISH_PATH}: broker is closed` });
    await broken.stop().catch(() => {});
  });
});
