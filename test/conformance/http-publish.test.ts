/**
 * Our HTTP publish extensions as a client on the wire sees them (spawned servers only: the
 * upstream server has neither): `POST /api/publish/batch` delivers its messages in order with the
 * positions it answers and reports bad messages in place; `/metrics` needs the metrics token when
 * one is configured; `POST /api/publish` takes bodies with and without a Content-Length and
 * refuses oversized ones either way.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, isExternal, testSpawned, uniqueTopic } from "./support.ts";
import { startTarget, type Target } from "./target.ts";
import { onTopic } from "./wire.ts";

const METRICS_TOKEN = "conformance-metrics-token-0123456789";
const MAX_MESSAGES = 4;
const MAX_MESSAGE_SIZE = 2048;

let shared: Target | null = null;
/** One server for the file, started by the first test that runs (none against an external target). */
async function target(): Promise<Target> {
  shared ??= await startTarget({
    extraEnv: {
      WSE_METRICS_TOKEN: METRICS_TOKEN,
      WSE_BATCH_MAX_MESSAGES: String(MAX_MESSAGES),
      WSE_MAX_MESSAGE_SIZE: String(MAX_MESSAGE_SIZE),
    },
  });
  return shared;
}
afterAll(async () => {
  await shared?.stop();
});
const pool = new ClientPool();

/** A body sent as a stream: no Content-Length, chunked on the wire. */
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 512) controller.enqueue(bytes.subarray(at, at + 512));
      controller.close();
    },
  });
}

describe("HTTP publish extensions", () => {
  if (isExternal) console.warn("[conformance] http-publish: our server's extensions, skipped against an external target");

  testSpawned("POST /api/publish/batch: in order on the wire, positions as answered, bad messages reported in place", async () => {
    const t = await target();
    const client = await connectReady(pool, t);
    const topic = uniqueTopic("batch");
    await client.subscribe([topic]);
    const res = await t.api("/api/publish/batch", {
      method: "POST",
      body: JSON.stringify({
        messages: [
          { topic, type: "b", payload: { n: 0 } },
          { topic, type: "b", payload: [1] },
          { topic, type: "b", payload: { n: 2 }, id: "batch-id-2" },
          { topic, type: "b", payload: { n: 3 } },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ succeeded: 3, failed: 1 });
    expect(body.results[1]).toEqual({ error: "INVALID_PAYLOAD", message: "payload must be a JSON object" });
    const got = await client.waitForCount(onTopic(topic), 3);
    expect(got.map((f) => [f.envelope!.e, f.envelope!.o, (f.envelope!.p as { n: number }).n])).toEqual([
      [body.results[0].epoch, body.results[0].offset, 0],
      [body.results[2].epoch, body.results[2].offset, 2],
      [body.results[3].epoch, body.results[3].offset, 3],
    ]);
    expect(got[1]!.envelope!.id).toBe("batch-id-2");

    const tooMany = await t.api("/api/publish/batch", {
      method: "POST",
      body: JSON.stringify({ messages: Array.from({ length: MAX_MESSAGES + 1 }, (_, n) => ({ topic, type: "b", payload: { n } })) }),
    });
    expect(tooMany.status).toBe(413);
    expect((await tooMany.json()).error).toBe("TOO_MANY_MESSAGES");
    const unauthorized = await fetch(`${t.httpUrl}/api/publish/batch`, { method: "POST", body: JSON.stringify({ messages: [{ topic, type: "b", payload: {} }] }) });
    expect(unauthorized.status).toBe(401);
  });

  testSpawned("GET /metrics with WSE_METRICS_TOKEN: 401 without the token or with the API key, 200 with it", async () => {
    const t = await target();
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${apiKeyOf(t)}` }];
    for (const headers of attempts) {
      const res = await fetch(`${t.httpUrl}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate") ?? "").toStartWith("Bearer");
      expect(await res.text()).not.toContain("wse_topic_subscribers");
    }
    const ok = await fetch(`${t.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^wse_connections \d+$/m);
    expect((await fetch(`${t.httpUrl}/health`)).status).toBe(200);
  });

  testSpawned("POST /api/publish: a chunked body is accepted; oversized bodies get 413 with and without Content-Length", async () => {
    const t = await target();
    const client = await connectReady(pool, t);
    const topic = uniqueTopic("chunked");
    await client.subscribe([topic]);
    const good = JSON.stringify({ topic, type: "c", payload: { pad: "p".repeat(MAX_MESSAGE_SIZE / 2) } });
    const res = await t.api("/api/publish", { method: "POST", body: streamed(good), duplex: "half" } as RequestInit);
    expect(res.status).toBe(200);
    expect((await res.json()).offset).toBe(0);
    expect((await client.waitForCount(onTopic(topic), 1))[0]!.envelope!.o).toBe(0);

    const big = JSON.stringify({ topic, type: "c", payload: { pad: "p".repeat(MAX_MESSAGE_SIZE * 2) } });
    for (const body of [big, streamed(big)]) {
      const refused = await t.api("/api/publish", { method: "POST", body, duplex: "half" } as RequestInit);
      expect(refused.status).toBe(413);
      expect((await refused.json()).error).toBe("BODY_TOO_LARGE");
    }
    const history = await t.api(`/api/history/${encodeURIComponent(topic)}`);
    expect((await history.json()).publications).toHaveLength(1);
  });
});

/** The API key a spawned target was started with (a protected field of the target; read for this one check). */
function apiKeyOf(t: Target): string {
  return (t as unknown as { apiKey: string }).apiKey;
}
