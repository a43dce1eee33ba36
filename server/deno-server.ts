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
import type { EngineDeps } from "./engine/engine.ts";
import { EngineServer } from "./engine-server.ts";
import type { UpgradeData } from "./engine/host.ts";
import type { Session } from "./engine/session.ts";
import { createHttpApp } from "./http/app.ts";
import { resolveOptions, type ResolvedOptions, type ServerOptions } from "./options.ts";
import type { ListenInfo, WseServer } from "./types.ts";
import { ChannelMap, DenoSocket } from "./deno-fanout.ts";
import { deno, type DenoHttpServer, type DenoServeInfo } from "./deno-runtime.ts";

/** Creates a WSE server for Deno (not listening until `listen()`; or route requests to `fetch`). */
export function createDenoServer(options: ServerOptions = {}, deps: EngineDeps = {}): DenoWseServer {
  return new DenoWseServer(resolveOptions(options), deps);
}

/** A WSE server on `Deno.serve`. */
export class DenoWseServer extends EngineServer implements WseServer {
  /** Deno has no separate WebSocket handler set: `fetch` does the upgrade. */
  readonly websocket: undefined = undefined;
  readonly #channels = new ChannelMap<DenoSocket>();
  readonly #http: { fetch: (request: Request) => Response | Promise<Response> };
  #server: DenoHttpServer | null = null;
  #info: ListenInfo | null = null;
  #stopping: Promise<void> | null = null;

  /** Creates the server (not listening yet). */
  constructor(options: ResolvedOptions, deps: EngineDeps = {}) {
    super(options, deps);
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
      this.engine.discard(prepared);
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

  /** Drains open connections, stops listening and releases the engine. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.drainIfOpen();
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
