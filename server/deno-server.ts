/**
 * The Deno host: the same runtime-free engine on `Deno.serve` + `Deno.upgradeWebSocket`, with
 * its own channel fan-out (`ChannelMap`), `bufferedAmount` backpressure (slow consumers closed
 * 4008) and the hono HTTP app for everything that is not a WebSocket upgrade on `path`.
 *
 * @example
 * ```ts
 * const server = createDenoServer({ port: 0, apiKey: "k" });
 * const { url } = await server.listen();
 * await server.publish("prices", "tick", { v: 1 });
 * await server.stop();
 * ```
 *
 * @module
 */
import type { PresenceMember, StreamTop } from "./broker/types.ts";
import { Engine, type EngineDeps } from "./engine/engine.ts";
import type { UpgradeData } from "./engine/host.ts";
import type { Session } from "./engine/session.ts";
import { createHttpApp } from "./http/app.ts";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./options.ts";
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
import { ChannelMap, DenoSocket } from "./deno-fanout.ts";
import { deno, type DenoHttpServer, type DenoServeInfo } from "./deno-runtime.ts";

/** Creates a WSE server for Deno (not listening until `listen()`; or route requests to `fetch`). */
export function createDenoServer(options: ServerOptions = {}, deps: EngineDeps = {}): DenoWseServer {
  return new DenoWseServer(resolveOptions(options), deps);
}

/** A WSE server on `Deno.serve`. */
export class DenoWseServer implements WseServer {
  /** The resolved options. */
  readonly options: ResolvedOptions;
  /** The engine (runtime-free core). */
  readonly engine: Engine;
  /** Deno has no separate WebSocket handler set: `fetch` does the upgrade. */
  readonly websocket: undefined = undefined;
  readonly #channels = new ChannelMap<DenoSocket>();
  readonly #http: { fetch: (request: Request) => Response | Promise<Response> };
  #server: DenoHttpServer | null = null;
  #info: ListenInfo | null = null;
  #stopping: Promise<void> | null = null;

  /** Creates the server (not listening yet). */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    this.options = options;
    this.engine = new Engine(options, deps);
    this.engine.setFanOut(this.#channels);
    this.#http = createHttpApp(this, options, { logger: this.engine.logger });
  }

  /** Nothing to attach on Deno (kept for the `WseServer` interface). */
  attach(_server: unknown): void {}

  /** Upgrades WebSocket requests on `path`; routes everything else to the HTTP app. */
  fetch(request: Request, info?: unknown): Response | Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === this.options.path && request.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const remote = (info as DenoServeInfo | undefined)?.remoteAddr?.hostname;
      return this.#upgrade(request, remote);
    }
    return this.#http.fetch(request);
  }

  async #upgrade(request: Request, remoteAddress: string | undefined): Promise<Response> {
    const prepared = await this.engine.prepare(request, remoteAddress);
    if (prepared instanceof Response) return prepared;
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = deno.upgradeWebSocket(request);
    } catch (error) {
      return new Response(`WebSocket upgrade failed: ${error instanceof Error ? error.message : String(error)}`, { status: 400 });
    }
    this.#wire(upgraded.socket, prepared);
    return upgraded.response;
  }

  #wire(ws: WebSocket, data: UpgradeData): void {
    const engine = this.engine;
    ws.binaryType = "arraybuffer";
    const onPressure = () => {
      const session = data.session as Session | undefined;
      if (session) engine.checkBackpressure(session);
    };
    const socket = new DenoSocket(ws, this.#channels, this.options.backpressureLimit, onPressure);
    let opened = false;
    ws.onopen = () => {
      opened = true;
      engine.open(socket, data);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (!socket.noteInbound()) return;
      const payload = event.data;
      if (typeof payload === "string") engine.message(data, payload);
      else if (payload instanceof ArrayBuffer) engine.message(data, new Uint8Array(payload));
    };
    ws.onclose = (event: CloseEvent) => {
      socket.dispose();
      if (opened) engine.socketClosed(data, event.code, event.reason);
    };
    ws.onerror = () => {
      // The close event follows; nothing to do here.
    };
  }

  /**
   * Starts `Deno.serve` on the configured host and port. `intercept` (optional) sees each request
   * first; when it returns a response, that is the answer (the CLI serves its demo page this way).
   */
  listen(intercept?: (request: Request) => Response | Promise<Response> | undefined): Promise<ListenInfo> {
    if (this.#info) return Promise.resolve(this.#info);
    return new Promise((resolve, reject) => {
      try {
        this.#server = deno.serve(
          {
            hostname: this.options.host,
            port: this.options.port,
            onListen: (addr) => {
              const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
              this.#info = { hostname: addr.hostname, port: addr.port, url: `ws://${host}:${addr.port}${this.options.path}` };
              this.engine.logger.info("listening", { url: this.#info.url, path: this.options.path });
              resolve(this.#info);
            },
            onError: (error) => {
              this.engine.logger.error("request failed", { error: error instanceof Error ? error.message : String(error) });
              return new Response("internal server error", { status: 500 });
            },
          },
          (request, info) => intercept?.(request) ?? this.fetch(request, info),
        );
      } catch (error) {
        reject(error);
      }
    });
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

  /** Drains open connections, stops listening and releases the engine. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.engine.sessions.size > 0 || this.engine.openSockets > 0) await this.engine.drain();
      await this.engine.close();
      const server = this.#server;
      this.#server = null;
      if (server) {
        // Upgraded sockets that never finished closing must not hold the shutdown forever.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
        await Promise.race([server.shutdown(), bound]);
        clearTimeout(timer);
      }
    })();
    return this.#stopping;
  }
}
