/**
 * HTTP publisher process: the control protocol of `bench/lib/host-control.ts`, publishing over
 * our HTTP API with keep-alive connections — the "HTTP API" publisher of the fan-out scenarios.
 *
 * Two modes:
 * - one request per publication (default): `POST /api/publish {topic, type, payload}`, the
 *   publications of one control batch in flight at once (system `ours-http`);
 * - batched (`BENCH_HTTP_BATCH=1`, system `ours-http-batch`): the publications made in one
 *   turn of the event loop go out together as `POST /api/publish/batch {messages: […]}`, at
 *   most `BENCH_HTTP_BATCH_MAX` (default 100, the server's default cap) per request, requests
 *   one after the other so that order is kept.
 *
 * Usage: `bun bench/publisher.ts` with env `BENCH_URL` (`http://127.0.0.1:5007`) and
 * `BENCH_API_KEY` (sent as `Authorization: Bearer`).
 * @module
 */
import { type BenchPayload, serveControl } from "./lib/host-control.ts";

const base = process.env.BENCH_URL ?? "http://127.0.0.1:5007";
const headers: Record<string, string> = { "content-type": "application/json" };
if (process.env.BENCH_API_KEY) headers.authorization = `Bearer ${process.env.BENCH_API_KEY}`;
const batched = process.env.BENCH_HTTP_BATCH === "1";
const batchMax = Math.max(1, Number(process.env.BENCH_HTTP_BATCH_MAX ?? 100) || 100);

async function post(path: string, body: unknown): Promise<Response> {
  const response = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`POST ${path} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  return response;
}

async function publishOne(topic: string, payload: BenchPayload): Promise<void> {
  await (await post("/api/publish", { topic, type: "bench", payload })).arrayBuffer();
}

interface Queued {
  topic: string;
  payload: BenchPayload;
  done: () => void;
  fail: (error: unknown) => void;
}

let queue: Queued[] = [];
let sending: Promise<void> = Promise.resolve();

function publishBatched(topic: string, payload: BenchPayload): Promise<void> {
  return new Promise((done, fail) => {
    if (queue.length === 0) queueMicrotask(flush);
    queue.push({ topic, payload, done, fail });
  });
}

function flush(): void {
  const items = queue;
  queue = [];
  for (let at = 0; at < items.length; at += batchMax) {
    const chunk = items.slice(at, at + batchMax);
    sending = sending.then(() => sendChunk(chunk));
  }
}

async function sendChunk(chunk: Queued[]): Promise<void> {
  try {
    const response = await post("/api/publish/batch", { messages: chunk.map((q) => ({ topic: q.topic, type: "bench", payload: q.payload })) });
    const answer = (await response.json()) as { failed: number; results: { error?: string; message?: string }[] };
    if (answer.failed > 0) {
      const first = answer.results.find((r) => r.error);
      throw new Error(`POST /api/publish/batch: ${answer.failed} of ${chunk.length} failed, first: ${first?.error} ${first?.message}`);
    }
    for (const q of chunk) q.done();
  } catch (error) {
    for (const q of chunk) q.fail(error);
  }
}

serveControl({ publish: batched ? publishBatched : publishOne }, { system: batched ? "http-batch-publisher" : "http-publisher", url: base });
