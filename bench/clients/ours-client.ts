/**
 * Receive-rate probe for our client (`client/mod.ts`), runnable unchanged in Bun, Deno
 * (`deno run -A`) and Node 22 (`node`, type stripping): connects with a token, subscribes to
 * one topic, consumes events with `for await`, checks each event's offset, and reports the
 * time it took to consume the last 80 % of them (the first 20 % warm it up). JSON lines on stdout: `ready`, then `done`.
 *
 * Environment: BENCH_URL, BENCH_TOKEN, BENCH_TOPIC, BENCH_EXPECT (events), BENCH_TIMEOUT_MS.
 * @module
 */
import { connect } from "../../client/mod.ts";

type Env = Record<string, string | undefined>;
const g = globalThis as unknown as {
  process?: { env: Env; exit(code: number): never };
  Deno?: { env: { toObject(): Env }; exit(code: number): never };
};
const env: Env = g.process?.env ?? g.Deno?.env.toObject() ?? {};
const exit = (code: number): never => (g.Deno ? g.Deno.exit(code) : g.process!.exit(code));
const now = () => performance.timeOrigin + performance.now();
const emit = (event: Record<string, unknown>) => console.log(JSON.stringify(event));

const expect = Number(env.BENCH_EXPECT ?? 10_000);
/** Events consumed before the clock starts (start-up, JIT and queue fill do not count). */
const warm = Math.floor(expect / 5);
const topic = env.BENCH_TOPIC ?? "client";
const timeoutMs = Number(env.BENCH_TIMEOUT_MS ?? 30_000);

const hardStop = setTimeout(() => {
  emit({ ev: "fatal", error: `timed out after ${timeoutMs} ms` });
  exit(3);
}, timeoutMs);

const client = await connect(env.BENCH_URL, {
  token: env.BENCH_TOKEN,
  topics: [topic],
  queueSize: 1_000_000,
  reconnect: false,
});
emit({ ev: "ready" });

let count = 0;
let lost = 0;
let duplicates = 0;
let last = -1;
let firstAt = 0;
let lastAt = 0;
for await (const event of client) {
  if (event.topic !== topic) continue;
  const offset = event.offset ?? -1;
  if (last >= 0 && offset <= last) duplicates++;
  else {
    if (last >= 0 && offset > last + 1) lost += offset - last - 1;
    last = offset;
  }
  count++;
  if (count === warm) firstAt = now();
  if (count >= expect) {
    lastAt = now();
    break;
  }
}
clearTimeout(hardStop);
emit({ ev: "done", count, measured: count - warm, lost, duplicates, firstAt, lastAt });
await client.close();
exit(0);
