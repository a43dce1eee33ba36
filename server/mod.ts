/**
 * The WSE server's public entry: `createServer(options)` and the types an application needs.
 *
 * @example Standalone
 * ```ts
 * import { createServer } from "./mod.ts";
 * const server = createServer({ port: 5007, jwt: { secret: process.env.WSE_JWT_SECRET } });
 * await server.listen();
 * await server.publish("prices", "price_update", { symbol: "AAPL", price: 187.5 });
 * ```
 *
 * @example Inside an existing Bun.serve
 * ```ts
 * const wse = createServer({ path: "/wse" });
 * Bun.serve({
 *   fetch: (req, srv) => new URL(req.url).pathname.startsWith("/app") ? myApp(req) : wse.fetch(req, srv),
 *   websocket: wse.websocket,
 * });
 * ```
 * @module
 */
import { BunWseServer } from "./bun.ts";
import { resolveOptions, type ServerOptions } from "./options.ts";
import type { WseServer } from "./types.ts";

/**
 * Creates a WSE server on Bun (not listening until `listen()`, or embed its `fetch`/`websocket`).
 * Throws `TypeError` for an invalid option and `AuthConfigError` for an unusable JWT config.
 */
export function createServer(options: ServerOptions = {}): BunWseServer & WseServer {
  return new BunWseServer(resolveOptions(options));
}

export { BunWseServer } from "./bun.ts";
export { MemoryBroker, type MemoryBrokerOptions } from "./broker/memory.ts";
export { Engine, type EngineDeps } from "./engine/engine.ts";
export type { HostFanOut, HostSocket, UpgradeData } from "./engine/host.ts";
export { CloseCode } from "./engine/codes.ts";
export { createLogger, isLogLevel, LOG_LEVELS, silentLogger, type LoggerOptions, type LogLevel } from "./log.ts";
export { DEFAULTS, resolveOptions } from "./options.ts";
export type { DrainOptions, HistoryOptions, RateLimitOptions, ResolvedOptions, ServerOptions } from "./options.ts";
export type * from "./types.ts";
export type * from "./broker/types.ts";
