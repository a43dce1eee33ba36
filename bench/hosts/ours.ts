/**
 * Our server through its embedding API (`createServer` from `server/mod.ts`), driven by the
 * bench control protocol: `publish` commands call `server.publish(topic, "bench", payload)`
 * in-process — the "embedding API" publisher of the fan-out scenarios.
 *
 * Usage: `bun bench/hosts/ours.ts` with env `BENCH_HOST` (127.0.0.1), `BENCH_PORT` (0),
 * `BENCH_JWT_SECRET`, `BENCH_API_KEY`, `BENCH_RECOVERY` (1/0, default 1),
 * `BENCH_COMPRESS_THRESHOLD` (1024), `BENCH_PING_MS` (25000).
 * @module
 */
import { createServer } from "../../server/mod.ts";
import { serveControl } from "../lib/host-control.ts";

const quiet = {
  debug() {},
  info() {},
  warn(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`warn ${message} ${JSON.stringify(fields ?? {})}\n`);
  },
  error(message: string, fields?: Record<string, unknown>) {
    process.stderr.write(`error ${message} ${JSON.stringify(fields ?? {})}\n`);
  },
};

const secret = process.env.BENCH_JWT_SECRET;
const server = createServer({
  host: process.env.BENCH_HOST ?? "127.0.0.1",
  port: Number(process.env.BENCH_PORT ?? 0),
  jwt: secret ? { secret } : undefined,
  apiKey: process.env.BENCH_API_KEY,
  recovery: (process.env.BENCH_RECOVERY ?? "1") !== "0",
  compressionThreshold: Number(process.env.BENCH_COMPRESS_THRESHOLD ?? 1024),
  pingIntervalMs: Number(process.env.BENCH_PING_MS ?? 25_000),
  idleTimeoutMs: Math.max(120_000, Number(process.env.BENCH_PING_MS ?? 25_000) * 3),
  logger: quiet,
});
const info = await server.listen();

serveControl(
  {
    publish: (topic, payload) => server.publish(topic, "bench", payload),
    close: () => server.stop(),
  },
  { port: info.port, system: "ours" },
);
