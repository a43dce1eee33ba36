/**
 * HTTP publisher process: the control protocol of `bench/lib/host-control.ts`, publishing each
 * publication with `POST /api/publish {topic, type, payload}` (keep-alive, one batch of
 * requests in flight at a time) — the "HTTP API" publisher of the fan-out scenarios.
 *
 * Usage: `bun bench/publisher.ts` with env `BENCH_URL` (`http://127.0.0.1:5007`) and
 * `BENCH_API_KEY` (sent as `Authorization: Bearer`).
 * @module
 */
import { serveControl } from "./lib/host-control.ts";

const base = process.env.BENCH_URL ?? "http://127.0.0.1:5007";
const headers: Record<string, string> = { "content-type": "application/json" };
if (process.env.BENCH_API_KEY) headers.authorization = `Bearer ${process.env.BENCH_API_KEY}`;
const endpoint = `${base}/api/publish`;

async function publish(topic: string, payload: unknown): Promise<void> {
  const response = await fetch(endpoint, { method: "POST", headers, body: JSON.stringify({ topic, type: "bench", payload }) });
  if (!response.ok) throw new Error(`POST /api/publish answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
  await response.arrayBuffer();
}

serveControl({ publish }, { system: "http-publisher", url: base });
