/**
 * The Bun host: `Bun.serve` with the native `websocket` handlers. WebSocket upgrades on the
 * configured path go to the engine; everything else goes to the hono HTTP app. Fan-out uses
 * Bun's built-in topic publish (one Bun topic per wire variant and WSE topic), so a publication
 * is encoded once per variant and written to every subscriber by native code.
 *
 * @example
 * ```ts
 * const server = new BunWseServer(resolveOptions({ port: 0 }));
 * const { url } = await server.listen();
 * await server.publish("prices", "tick", { v: 1 });
 * await server.stop();
 * ```
 * @module
 */
import type { Server, WebSocketHandler } from "bun";
import type { PresenceMember, StreamTop } from "./broker/types.ts";
import { Engine, type EngineDeps } from "./engine/engine.ts";
import type { UpgradeData } from "./engine/host.ts";
import type { Session } from "./engine/session.ts";
import { createHttpApp } from "./http/app.ts";
import type { ResolvedOptions } from "./options.ts";
import type {
  DisconnectOptions,
  DrainCallOptions,
  HistoryAnswer,
  HistoryQuery,
  ListenInfo,
  PresenceSummary,
  ServerMetrics,
  ServerPublishOptions,
  ServerStats,
  WseServer,
} from "./types.ts";

/** Until the socket opens: what the upgrade found out; from then on: the session (the upgrade data is released). */
type WsData = UpgradeData | Session;
type BunServer = Server<WsData>;

/** The path of an absolute request URL, without building a `URL` object (hot on every upgrade). */
export function pathOf(url: string): string {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q >= 0) end = q;
  const h = url.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return url.slice(start, end);
}

/** A WSE server on `Bun.serve`. */
export class BunWseServer implements WseServer {
  /** The resolved options. */
  readonly options: ResolvedOptions;
  /** The engine (runtime-free core). */
  readonly engine: Engine;
  /** Bun `websocket` handler set (for embedding in an existing `Bun.serve`). */
  readonly websocket: WebSocketHandler<WsData>;
  #server: BunServer | null = null;
  #ownsServer = false;
  #http: { fetch: (request: Request) => Response | Promise<Response> };
  #stopping: Promise<void> | null = null;

  /** Creates the server (not listening yet). */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    this.options = options;
    this.engine = new Engine(options, deps);
    this.#http = createHttpApp(this, options, { logger: this.engine.logger });
    const engine = this.engine;
    this.websocket = {
      open(ws) {
        // Bun's ServerWebSocket is the engine's HostSocket as it is; ws.data then holds the session only.
        const session = engine.open(ws, ws.data as UpgradeData);
        if (session) ws.data = session;
      },
      message(ws, message) {
        engine.message(ws.data, message as string | Uint8Array);
      },
      close(ws, code, reason) {
        engine.socketClosed(ws.data, code, reason);
      },
      drain() {},
      // Frames up to 4× the limit reach the engine, which answers MESSAGE_TOO_LARGE and keeps the
      // connection; only absurd frames make Bun close it.
      maxPayloadLength: Math.max(16 * 1024 * 1024, options.maxMessageSize * 4),
      backpressureLimit: options.backpressureLimit,
      closeOnBackpressureLimit: false,
      idleTimeout: 0,
      perMessageDeflate: false,
      publishToSelf: false,
      sendPings: true,
    };
  }

  /** Tells an embedded server which `Bun.serve` it runs in (done automatically on first `fetch`). */
  attach(server: unknown): void {
    const bun = server as BunServer;
    if (this.#server === bun) return;
    this.#server = bun;
    this.engine.setFanOut({ publish: (channel, frame) => void bun.publish(channel, frame) });
  }

  /** Upgrades WebSocket requests on `path`; routes everything else to the HTTP app. */
  fetch(request: Request, server: unknown): Response | undefined | Promise<Response | undefined> {
    const bun = server as BunServer;
    if (this.#server !== bun) this.attach(bun);
    if (pathOf(request.url) === this.options.path && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return this.#upgrade(request, bun);
    }
    return this.#http.fetch(request);
  }

  async #upgrade(request: Request, server: BunServer): Promise<Response | undefined> {
    const address = server.requestIP(request)?.address;
    const prepared = await this.engine.prepare(request, address);
    if (prepared instanceof Response) return prepared;
    if (server.upgrade(request, { data: prepared })) return undefined;
    return new Response("WebSocket upgrade failed", { status: 400 });
  }

  /** Starts `Bun.serve` on the configured host and port. */
  async listen(): Promise<ListenInfo> {
    if (this.#server && this.#ownsServer) return this.#info();
    const server = Bun.serve<WsData>({
      hostname: this.options.host,
      port: this.options.port,
      fetch: (request, srv) => this.fetch(request, srv),
      websocket: this.websocket,
    });
    this.#ownsServer = true;
    this.attach(server);
    const info = this.#info();
    this.engine.logger.info("listening", { url: info.url, path: this.options.path });
    return info;
  }

  #info(): ListenInfo {
    const server = this.#server!;
    const hostname = server.hostname ?? this.options.host;
    const port = server.port ?? this.options.port;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return { hostname, port, url: `ws://${host}:${port}${this.options.path}` };
  }

  /** False while the broker is unreachable or the server drains. */
  get healthy(): boolean {
    return this.engine.healthy;
  }

  /** True once `drain()` began. */
  get draining(): boolean {
    return this.engine.draining;
  }

  /** Publishes to a topic. */
  publish(topic: string, type: string, payload: unknown, options?: ServerPublishOptions): Promise<StreamTop> {
    return this.engine.publish(topic, type, payload, options);
  }

  /** Sends to one local connection. */
  send(connectionId: string, type: string, payload: unknown): boolean {
    return this.engine.send(connectionId, type, payload);
  }

  /** Sends to every connection. */
  broadcast(type: string, payload: unknown): Promise<void> {
    return this.engine.broadcast(type, payload);
  }

  /** Server-side subscribe. */
  subscribe(connectionId: string, topics: string[]): Promise<string[]> {
    return this.engine.subscribe(connectionId, topics);
  }

  /** Server-side unsubscribe. */
  unsubscribe(connectionId: string, topics?: string[]): Promise<void> {
    return this.engine.unsubscribe(connectionId, topics);
  }

  /** Closes connections of a user or one connection. */
  disconnect(options: DisconnectOptions): Promise<number> {
    return this.engine.disconnect(options);
  }

  /** Presence of a topic grouped by user. */
  presence(topic: string): Promise<PresenceSummary> {
    return this.engine.presenceSummary(topic);
  }

  /** Raw presence members. */
  presenceMembers(topic: string): Promise<PresenceMember[]> {
    return this.engine.presenceMembers(topic);
  }

  /** Retained history. */
  history(topic: string, query?: HistoryQuery): Promise<HistoryAnswer> {
    return this.engine.history(topic, query);
  }

  /** Summary numbers. */
  stats(): ServerStats {
    return this.engine.stats();
  }

  /** Counters for `/metrics`. */
  metrics(): ServerMetrics {
    return this.engine.metrics();
  }

  /** Drains: refuses new upgrades (503), closes connections in jittered batches. */
  drain(options?: DrainCallOptions): Promise<void> {
    return this.engine.drain(options);
  }

  /** Drains open connections, stops listening (when standalone) and releases the engine. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.engine.sessions.size > 0 || this.engine.openSockets > 0) await this.engine.drain();
      if (this.#ownsServer && this.#server) this.#server.stop(true);
      await this.engine.close();
    })();
    return this.#stopping;
  }
}
