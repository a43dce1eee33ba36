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
import type { EngineDeps } from "./engine/engine.ts";
import { EngineServer } from "./engine-server.ts";
import type { UpgradeData } from "./engine/host.ts";
import type { Session } from "./engine/session.ts";
import { createHttpApp } from "./http/app.ts";
import type { ResolvedOptions } from "./options.ts";
import type { ListenInfo, WseServer } from "./types.ts";

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
export class BunWseServer extends EngineServer implements WseServer {
  /** Bun `websocket` handler set (for embedding in an existing `Bun.serve`). */
  readonly websocket: WebSocketHandler<WsData>;
  #server: BunServer | null = null;
  #ownsServer = false;
  #http: { fetch: (request: Request) => Response | Promise<Response> };
  #stopping: Promise<void> | null = null;

  /** Creates the server (not listening yet). */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    super(options, deps);
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
    this.engine.discard(prepared);
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

  /** Drains open connections, stops listening (when standalone) and releases the engine. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.drainIfOpen();
      if (this.#ownsServer && this.#server) this.#server.stop(true);
      await this.engine.close();
    })();
    return this.#stopping;
  }
}
