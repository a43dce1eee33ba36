/**
 * Shared glue for the conformance test files: capability-gated tests that print why they skip,
 * a pool that closes every client a test opened, and connect-and-handshake shortcuts.
 *
 * @module
 */
import { afterEach, test } from "bun:test";
import type { JWTPayload } from "jose";
import { isOurHost, type Capability, type Target } from "./target.ts";
import { WireClient, type ConnectOptions, type HandshakeOptions, type HandshakeResult } from "./wire.ts";

/** Default per-test timeout, ms. */
export const TEST_TIMEOUT_MS = 20_000;

/**
 * Declares a test that needs `caps`; when the target lacks any, the test is registered as skipped
 * and the reason is printed (never a silent skip).
 */
export function testWith(target: Target, caps: Capability[], name: string, fn: () => Promise<void>, timeoutMs = TEST_TIMEOUT_MS): void {
  const missing = target.missing(...caps);
  if (missing.length > 0) {
    console.warn(`[conformance] SKIP "${name}": ${target.name} lacks capability ${missing.join(", ")}`);
    test.skip(name, fn);
    return;
  }
  test(name, fn, timeoutMs);
}

/** Tracks the clients a test opens and closes them all after each test. */
export class ClientPool {
  private readonly open = new Set<WireClient>();

  /** Registers the `afterEach` hook that closes this pool's clients. */
  constructor() {
    afterEach(async () => {
      await this.closeAll();
    });
  }

  /** Connects a client and tracks it. */
  async connect(url: string, options?: ConnectOptions): Promise<WireClient> {
    const client = await WireClient.connect(url, options);
    this.open.add(client);
    return client;
  }

  /** Connects presenting `token` the target's way (query, cookie or bearer). */
  async connectWithToken(target: Target, token: string | undefined, query?: Record<string, string | undefined>): Promise<WireClient> {
    const { url, headers } = target.withToken(token, query);
    return this.connect(url, { headers });
  }

  /** Closes every tracked client. */
  async closeAll(): Promise<void> {
    const all = [...this.open];
    this.open.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

/** Options for {@link connectReady}. */
export interface ReadyOptions extends HandshakeOptions {
  /** Token claims (sub defaults to user-1); ignored when the target has no JWT secret. */
  claims?: JWTPayload;
  /** Extra query parameters. */
  query?: Record<string, string | undefined>;
}

/**
 * Connects with a freshly minted `?token=` (when the target verifies JWTs) and completes the
 * handshake. Returns the client and the handshake envelopes.
 */
export async function connectReady(pool: ClientPool, target: Target, options: ReadyOptions = {}): Promise<WireClient & { handshakeResult: HandshakeResult }> {
  const token = target.jwtSecret ? await target.mintToken(options.claims) : undefined;
  const client = await pool.connectWithToken(target, token, options.query);
  const handshakeResult = await client.handshake(options);
  return Object.assign(client, { handshakeResult });
}

/** A unique topic name for one test. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}.${crypto.randomUUID().slice(0, 8)}`;
}

/** The payload object (`p`) of an envelope, typed loosely for assertions. */
export function payloadOf(envelope: { p?: unknown } | null | undefined): Record<string, any> {
  return (envelope?.p ?? {}) as Record<string, any>;
}

/**
 * True when the suite cannot start servers with our CLI's settings: an external server
 * (`WSE_CONFORMANCE_URL`) or the upstream host (`WSE_CONFORMANCE_HOST=upstream`).
 */
export const isExternal = !!process.env.WSE_CONFORMANCE_URL || !isOurHost();

/**
 * Declares a test that starts its own specially configured server; against an external target
 * it is registered as skipped with the reason printed.
 */
export function testSpawned(name: string, fn: () => Promise<void>, timeoutMs = TEST_TIMEOUT_MS): void {
  if (isExternal) {
    console.warn(`[conformance] SKIP "${name}": needs a server the suite spawns with its own settings`);
    test.skip(name, fn);
    return;
  }
  test(name, fn, timeoutMs);
}
