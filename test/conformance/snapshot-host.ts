/**
 * A tiny application for the conformance suite: our server embedded through its public API with
 * a snapshot provider (the standalone CLI has none). It runs on Bun (`createServer` from
 * server/mod.ts) or on Deno (`createDenoServer` from server/deno-server.ts), so the snapshot
 * tests stay black-box on both hosts. Settings come from the same `WSE_*` variables the CLI reads
 * (port, host, JWT secret, API key).
 *
 * Snapshot rules: topics starting `typed.` → `{type: "board_snapshot", payload: {topic, rows}}`;
 * `bare.` → a bare payload `{price: 42}`; `slow.` → the same after 200 ms; anything else → none.
 * The provider records each call; `GET /test/snapshot-calls` is not offered (the wire shows it).
 *
 * @module
 */
import process from "node:process";
import type { ServerOptions } from "../../server/options.ts";
import type { ServerHooks, WseServer } from "../../server/types.ts";

const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

const hooks: ServerHooks = {
  snapshot: async (_conn, topic) => {
    if (topic.startsWith("typed.")) return { type: "board_snapshot", payload: { topic, rows: [1, 2, 3] } };
    if (topic.startsWith("bare.")) return { price: 42 };
    if (topic.startsWith("slow.")) {
      await new Promise((r) => setTimeout(r, 200));
      return { price: 43 };
    }
    return null;
  },
};

const env = process.env;
const options: ServerOptions = {
  host: env.WSE_HOST ?? "127.0.0.1",
  port: Number(env.WSE_PORT ?? 0),
  apiKey: env.WSE_API_KEY,
  jwt: env.WSE_JWT_SECRET ? { secret: env.WSE_JWT_SECRET } : undefined,
  logger: { debug() {}, info() {}, warn() {}, error() {} },
  hooks,
};

let server: WseServer;
if (isDeno) {
  const { createDenoServer } = await import("../../server/deno-server.ts");
  server = createDenoServer(options);
} else {
  const { createServer } = await import("../../server/mod.ts");
  server = createServer(options);
}
const info = await server.listen();
console.log(JSON.stringify({ url: info.url }));

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    void server.stop().finally(() => process.exit(0));
  });
}
