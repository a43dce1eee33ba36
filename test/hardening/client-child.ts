/**
 * A child process running real clients (`client/mod.ts`) for scenarios that freeze, kill or
 * load clients from outside the test process. It prints one JSON object per line on stdout:
 *
 * - `{"k":"ready","i":0,"t":<ms epoch>}` each time client `i` becomes ready
 * - `{"k":"ev","i":0,"tp":"…","e":"…","o":12}` each publication the application receives
 * - `{"k":"disc"|"rec","i":0,"p":{…}}` the client's `discontinuity` / `recovery` events
 * - `{"k":"err","i":0,"m":"…"}` errors the client reports
 *
 * Settings come from the environment: `WSE_CHILD_URL`, `WSE_CHILD_TOKEN`, `WSE_CHILD_TOPIC`,
 * `WSE_CHILD_CLIENTS` (default 1), `WSE_CHILD_BASE_DELAY` (reconnect base delay, ms, default 200),
 * `WSE_CHILD_QUIET=1` (only `ready` and `err` lines).
 *
 * @module
 */
import { connect, type WSEClient } from "../../client/mod.ts";

const env = process.env;
const url = env.WSE_CHILD_URL!;
const token = env.WSE_CHILD_TOKEN;
const topic = env.WSE_CHILD_TOPIC!;
const count = Number(env.WSE_CHILD_CLIENTS ?? 1);
const baseDelay = Number(env.WSE_CHILD_BASE_DELAY ?? 200);
const quiet = env.WSE_CHILD_QUIET === "1";

const lines: string[] = [];
let flushing = false;
function out(line: Record<string, unknown>): void {
  lines.push(JSON.stringify(line));
  if (!flushing) {
    flushing = true;
    queueMicrotask(() => {
      flushing = false;
      process.stdout.write(`${lines.splice(0).join("\n")}\n`);
    });
  }
}

const clients: WSEClient[] = [];
for (let i = 0; i < count; i++) {
  const client = await connect(url, {
    token,
    topics: [topic],
    reconnect: { baseDelay, maxDelay: 2000 },
    circuitBreaker: { failureThreshold: 1_000 },
    queueSize: 1_000_000,
    retryInitialConnect: true,
  });
  client.onStateChange((state) => {
    if (state === "ready") out({ k: "ready", i, t: Date.now() });
  });
  client.onError((error) => out({ k: "err", i, m: String(error?.message ?? error).slice(0, 200) }));
  if (!quiet) {
    client.onAny((e) => {
      if (e.type === "discontinuity") out({ k: "disc", i, p: e.payload });
      else if (e.type === "recovery") out({ k: "rec", i, p: e.payload });
      else if (e.topic !== undefined && e.offset !== undefined) out({ k: "ev", i, tp: e.topic, e: e.epoch, o: e.offset });
    });
  }
  out({ k: "ready", i, t: Date.now() });
  clients.push(client);
}
out({ k: "all-ready", t: Date.now() });

process.on("SIGTERM", async () => {
  await Promise.all(clients.map((c) => c.close()));
  process.exit(0);
});
