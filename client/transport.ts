/**
 * Opening a WebSocket in any runtime: `globalThis.WebSocket` in browsers, Bun, Deno and
 * Node ≥ 22. Bun, Deno and Node (undici) accept `{ headers }`, so the token goes as
 * `Authorization: Bearer …` there; browsers cannot set headers, so it goes as `?token=`.
 *
 * @module
 */
import { WSEConnectionError, WSETimeoutError } from "./errors.ts";

/** What `openSocket` needs. */
export interface OpenSocketOptions {
  /** JWT; sent as a header where possible, otherwise as `?token=`. */
  token?: string;
  /** Extra handshake headers (ignored in browsers, which cannot send them). */
  headers?: Record<string, string>;
  /** Extra query parameters (e.g. `format=msgpack`). */
  query?: Record<string, string>;
  /** Give up opening after this many ms. */
  timeout: number;
  /** Put the token in the query even where headers work. */
  tokenInQuery?: boolean;
}

/** True when the runtime's WebSocket constructor accepts `{ headers }` (Bun, Deno, Node). */
export function runtimeSupportsHeaders(): boolean {
  const g = globalThis as Record<string, unknown> & { process?: { versions?: { node?: string } } };
  if ("Bun" in g || "Deno" in g) return true;
  return typeof g.process?.versions?.node === "string" && typeof (g as { document?: unknown }).document === "undefined";
}

/** The URL actually dialled: query parameters added, token included when it must go there. */
export function buildSocketUrl(url: string, options: Pick<OpenSocketOptions, "token" | "query" | "tokenInQuery">, headersWork: boolean): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WSEConnectionError(`invalid WebSocket URL: ${url}`);
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new WSEConnectionError(`WebSocket URL must be ws:// or wss://, got ${url}`);
  }
  for (const [key, value] of Object.entries(options.query ?? {})) parsed.searchParams.set(key, value);
  if (options.token && (options.tokenInQuery || !headersWork)) parsed.searchParams.set("token", options.token);
  return parsed.toString();
}

/** Opens a WebSocket (binaryType `arraybuffer`) and resolves once it is open. */
export function openSocket(url: string, options: OpenSocketOptions): Promise<WebSocket> {
  const Ctor = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!Ctor) return Promise.reject(new WSEConnectionError("this runtime has no global WebSocket (Node ≥ 22 is required)"));
  const headersWork = runtimeSupportsHeaders();
  let target: string;
  try {
    target = buildSocketUrl(url, options, headersWork);
  } catch (error) {
    return Promise.reject(error);
  }
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token && headersWork && !options.tokenInQuery) headers.Authorization = `Bearer ${options.token}`;
  return new Promise((resolve, reject) => {
    let socket: WebSocket;
    try {
      socket = headersWork && Object.keys(headers).length
        ? new (Ctor as unknown as new (u: string, o: unknown) => WebSocket)(target, { headers })
        : new Ctor(target);
    } catch (error) {
      reject(new WSEConnectionError(`cannot open ${url}: ${(error as Error).message}`, { cause: error }));
      return;
    }
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      cleanup();
      try {
        socket.close();
      } catch { /* already closing */ }
      reject(new WSETimeoutError(`connecting to ${url} timed out after ${options.timeout} ms`));
    }, options.timeout);
    const onOpen = () => {
      cleanup();
      resolve(socket);
    };
    const onFail = (event: Event) => {
      cleanup();
      const code = (event as CloseEvent).code;
      reject(new WSEConnectionError(`cannot connect to ${url}${code ? ` (close ${code})` : ""}`, { closeCode: code || undefined }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeEventListener("open", onOpen);
      socket.removeEventListener("error", onFail);
      socket.removeEventListener("close", onFail);
    };
    socket.addEventListener("open", onOpen);
    socket.addEventListener("error", onFail);
    socket.addEventListener("close", onFail);
  });
}
