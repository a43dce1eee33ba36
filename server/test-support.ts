/**
 * Test helpers for the server's own unit and end-to-end tests: the recording client from
 * `test-client.ts` and a Bun server factory on a loopback port. Not part of the public API.
 *
 * @module
 */
import { BunWseServer } from "./bun.ts";
import { silentLogger } from "./log.ts";
import { resolveOptions, type ServerOptions } from "./options.ts";

export { type Received, TestClient } from "./test-client.ts";

/** Starts a server on 127.0.0.1 with a free port and a silent logger. */
export async function startTestServer(options: ServerOptions = {}): Promise<{ server: BunWseServer; url: string }> {
  const server = new BunWseServer(resolveOptions({ host: "127.0.0.1", port: 0, logger: silentLogger, ...options }));
  const info = await server.listen();
  return { server, url: info.url };
}
