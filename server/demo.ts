/**
 * Demo mode (`--demo` / `--demo-dir`) for both CLIs (Bun and Deno): the demo page served under
 * `/demo/` (paths confined to the demo directory; `node:fs` works in both), a short-lived guest
 * JWT at `GET /demo/token` when an HMAC secret is configured, a price ticker published to
 * `demo.events` every second, and client publish on the demo's topics unless configured.
 *
 * @example
 * ```ts
 * const options = demoServerOptions(config.options);
 * const handler = createDemoHandler(demoDir, createDemoTokenIssuer(options.jwt));
 * const ticker = startDemoTicker(server, logger);
 * ```
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, normalize, resolve, sep } from "node:path";
import { SignJWT } from "jose";
import type { AuthConfig } from "./engine/auth.ts";
import type { ServerOptions } from "./options.ts";
import type { JwtAlgorithm, Logger } from "./types.ts";

/** The demo page's live event stream (the ticker publishes here). */
export const DEMO_EVENTS_TOPIC = "demo.events";
/** Topics under this prefix are the demo's: clients may publish there in demo mode. */
export const DEMO_TOPIC_PREFIX = "demo.";
/** Lifetime of a guest token from `/demo/token`, seconds. */
export const DEMO_TOKEN_TTL_SECONDS = 600;

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  wasm: "application/wasm",
  map: "application/json",
};

/**
 * The demo directory: `explicit` (relative to the working directory), else `client/demo` next to
 * `sourceDir/..` or under the working directory; only one holding an `index.html` counts.
 */
export function findDemoDir(explicit: string | undefined, sourceDir: string, cwd: string): string | undefined {
  const candidates = explicit ? [resolve(cwd, explicit)] : [resolve(sourceDir, "../client/demo"), resolve(cwd, "client/demo")];
  return candidates.find((dir) => existsSync(join(dir, "index.html")));
}

/**
 * Answers `/demo` (redirect) and `/demo/*` (a file of `root`, `index.html` for directories);
 * `undefined` for every other path. Anything outside `root` or missing is 404.
 */
export function serveDemo(request: Request, root: string): Response | undefined {
  const url = new URL(request.url);
  if (url.pathname === "/demo") return Response.redirect(`${url.origin}/demo/`, 302);
  if (!url.pathname.startsWith("/demo/")) return undefined;
  if (request.method !== "GET" && request.method !== "HEAD") return new Response("method not allowed", { status: 405 });
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname.slice("/demo/".length) || "index.html");
  } catch {
    return new Response("bad path", { status: 400 });
  }
  const path = normalize(join(root, decoded));
  if (path !== root && !path.startsWith(root + sep)) return new Response("not found", { status: 404 });
  let file = path;
  try {
    if (statSync(file).isDirectory()) file = join(file, "index.html");
    const body = readFileSync(file);
    const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream", "cache-control": "no-cache" },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/**
 * The server options of demo mode: unless `clientPublish` was configured (either way), clients
 * may publish to the demo's topics (`demo.*`) and nowhere else; an `authorizePublish` hook of
 * the application still has the last word.
 */
export function demoServerOptions(options: ServerOptions): ServerOptions {
  if (options.clientPublish !== undefined) return options;
  const hooks = options.hooks ?? {};
  const appHook = hooks.authorizePublish;
  return {
    ...options,
    clientPublish: true,
    hooks: {
      ...hooks,
      authorizePublish: (conn, topic, type, payload) =>
        topic.startsWith(DEMO_TOPIC_PREFIX) && (appHook ? appHook(conn, topic, type, payload) : true),
    },
  };
}

/** Makes guest tokens; `undefined` without an HMAC secret (nothing to sign with). */
export type DemoTokenIssuer = () => Promise<string>;

/**
 * A guest token issuer for `/demo/token`: HS-signed with the configured secret, for a random
 * `guest-…` user limited to the demo's topics (`wse_topics: {allow: ["demo.*"]}`: handing out
 * tokens must not open the server's other topics), valid for `DEMO_TOKEN_TTL_SECONDS`, with the
 * configured issuer, audience and
 * (when a list is required) key id so that the server's own checks accept it. `undefined` when
 * no secret is configured or no HS algorithm is allowed (public keys cannot sign).
 */
export function createDemoTokenIssuer(jwt: AuthConfig | undefined): DemoTokenIssuer | undefined {
  if (!jwt || jwt.secret === undefined) return undefined;
  const algorithm = (jwt.algorithms ?? ["HS256"]).find((a): a is JwtAlgorithm => a.startsWith("HS"));
  if (!algorithm) return undefined;
  const key = typeof jwt.secret === "string" ? new TextEncoder().encode(jwt.secret) : jwt.secret;
  const kid = jwt.kid ?? (Array.isArray(jwt.requireKid) ? jwt.requireKid[0] : jwt.requireKid === true ? "demo" : undefined);
  const issuer = Array.isArray(jwt.issuer) ? jwt.issuer[0] : jwt.issuer;
  const audience = Array.isArray(jwt.audience) ? jwt.audience[0] : jwt.audience;
  return () => {
    const guest = `guest-${crypto.randomUUID().slice(0, 8)}`;
    let token = new SignJWT({ name: guest, wse_topics: { allow: [`${DEMO_TOPIC_PREFIX}*`] } })
      .setProtectedHeader(kid ? { alg: algorithm, typ: "JWT", kid } : { alg: algorithm, typ: "JWT" })
      .setSubject(guest)
      .setIssuedAt()
      .setExpirationTime(`${DEMO_TOKEN_TTL_SECONDS}s`);
    if (issuer) token = token.setIssuer(issuer);
    if (audience) token = token.setAudience(audience);
    return token.sign(key);
  };
}

/**
 * The demo's HTTP routes: `GET /demo/token` (a guest token as text, or 404 when the server
 * cannot sign one — the page then connects without a token, as in development mode), then the
 * page itself (`serveDemo`). `undefined` for paths outside `/demo`.
 */
export function createDemoHandler(root: string, issueToken: DemoTokenIssuer | undefined) {
  return (request: Request): Response | Promise<Response> | undefined => {
    const path = new URL(request.url).pathname;
    if (path !== "/demo/token") return serveDemo(request, root);
    if (request.method !== "GET") return new Response("method not allowed", { status: 405, headers: { allow: "GET" } });
    const headers = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
    if (!issueToken) return new Response("no demo tokens: the server has no HMAC JWT secret", { status: 404, headers });
    return issueToken().then((token) => new Response(token, { headers }));
  };
}

/** What the ticker needs of a server. */
export interface TickerTarget {
  /** Publishes to a topic. */
  publish(topic: string, type: string, payload: unknown): Promise<unknown>;
  /** True while draining (the ticker then stays quiet). */
  readonly draining: boolean;
}

/** A running ticker. */
export interface DemoTicker {
  /** Stops publishing. */
  stop(): void;
}

const SYMBOLS: ReadonlyArray<{ symbol: string; price: number; decimals: number }> = [
  { symbol: "AAPL", price: 189.3, decimals: 2 },
  { symbol: "MSFT", price: 411.2, decimals: 2 },
  { symbol: "NVDA", price: 121.7, decimals: 2 },
  { symbol: "BTC-USD", price: 64_250, decimals: 1 },
  { symbol: "EUR-USD", price: 1.0842, decimals: 4 },
];

/**
 * Publishes a `price_tick` to `demo.events` every `intervalMs` (default 1 s): one symbol per
 * tick in turn, its price on a small random walk, e.g.
 * `{ symbol: "AAPL", price: 189.41, change: 0.11, change_pct: 0.06, bid, ask, volume, seq }`.
 * Publish failures (broker down, server stopping) are logged at debug level and skipped.
 */
export function startDemoTicker(target: TickerTarget, logger: Logger, intervalMs = 1000): DemoTicker {
  const state = SYMBOLS.map((s) => ({ ...s, open: s.price, last: s.price }));
  let seq = 0;
  const tick = () => {
    if (target.draining) return;
    const s = state[seq % state.length]!;
    seq++;
    const factor = 10 ** s.decimals;
    const round = (n: number) => Math.round(n * factor) / factor;
    const price = round(Math.max(s.last * (1 + (Math.random() - 0.5) * 0.004), 1 / factor));
    const spread = Math.max(round(price * 0.0002), 1 / factor);
    s.last = price;
    const payload = {
      symbol: s.symbol,
      price,
      change: round(price - s.open),
      change_pct: Math.round(((price - s.open) / s.open) * 10_000) / 100,
      bid: round(price - spread / 2),
      ask: round(price + spread / 2),
      volume: 1 + Math.floor(Math.random() * 500),
      seq,
    };
    target.publish(DEMO_EVENTS_TOPIC, "price_tick", payload).catch((error) => {
      logger.debug("demo tick not published", { error: error instanceof Error ? error.message : String(error) });
    });
  };
  const timer = setInterval(tick, intervalMs);
  (timer as { unref?: () => void }).unref?.();
  return { stop: () => clearInterval(timer) };
}
