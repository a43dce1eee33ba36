/**
 * The part of the `Deno` global the Deno host uses, typed here so the files type-check under
 * both `deno check` and the project's `tsc` (which has Bun's types, not Deno's). At run time
 * `deno` is Deno's own global; under Bun it is undefined and must not be touched.
 *
 * @module
 */

/** A TCP address. */
export interface DenoNetAddr {
  transport: string;
  hostname: string;
  port: number;
}

/** Second argument of a `Deno.serve` handler. */
export interface DenoServeInfo {
  remoteAddr: DenoNetAddr;
}

/** What `Deno.serve` returns. */
export interface DenoHttpServer {
  shutdown(): Promise<void>;
  readonly finished: Promise<void>;
}

/** Options of `Deno.serve` used here. */
export interface DenoServeOptions {
  hostname?: string;
  port?: number;
  onListen?: (addr: DenoNetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
}

/** The `Deno` API subset of the host and its CLI. */
export interface DenoApi {
  serve(options: DenoServeOptions, handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>): DenoHttpServer;
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response };
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  readTextFileSync(path: string): string;
  cwd(): string;
  readonly args: string[];
  readonly env: { toObject(): Record<string, string> };
  exit(code: number): never;
  readonly version: { deno: string };
}

/** Deno's global (undefined outside Deno). */
export const deno: DenoApi = (globalThis as unknown as { Deno: DenoApi }).Deno;
