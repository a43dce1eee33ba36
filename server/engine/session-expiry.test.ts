/**
 * A connection does not outlive its token: real Bun servers on loopback, real HS256 tokens that
 * expire a second after they are minted, real WebSocket clients.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import { silentLogger } from "../log.ts";
import { createServer } from "../mod.ts";
import type { ServerOptions } from "../options.ts";
import { CloseCode } from "./codes.ts";

const SECRET = "session-expiry-test-secret-0123456789abcdef";
const enc = new TextEncoder();

/** An HS256 token for `sub` whose `exp` is `seconds` from now (fractional seconds are kept). */
function token(sub: string, seconds: number): Promise<string> {
  return new SignJWT({ sub, exp: Date.now() / 1000 + seconds }).setProtectedHeader({ alg: "HS256" }).sign(enc.encode(SECRET));
}

interface Frame {
  t?: string;
  tp?: string;
  p?: Record<string, unknown>;
}

/** A WebSocket client that records every envelope and the close. */
class Client {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly #ws: WebSocket;
  readonly #closedAt: Promise<void>;

  constructor(url: string, jwt: string) {
    this.#ws = new WebSocket(url, { headers: { authorization: `Bearer ${jwt}` } } as unknown as string[]);
    this.#ws.onmessage = (event) => {
      if (typeof event.data === "string") this.frames.push(JSON.parse(event.data) as Frame);
    };
    this.#closedAt = new Promise((resolve) => {
      this.#ws.onclose = (event) => {
        this.closed = { code: event.code, reason: event.reason };
        resolve();
      };
    });
  }

  send(envelope: unknown): void {
    this.#ws.send(JSON.stringify(envelope));
  }

  /** Resolves with the first envelope of type `t`, or rejects after `ms`. */
  async waitFor(predicate: (frame: Frame) => boolean, ms = 3000): Promise<Frame> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const found = this.frames.find(predicate);
      if (found) return found;
      await Bun.sleep(10);
    }
    throw new Error(`no matching frame within ${ms} ms; got ${this.frames.map((f) => f.t ?? f.tp).join(",")}`);
  }

  /** Resolves with the close, or null when the socket is still open after `ms`. */
  async waitClose(ms: number): Promise<{ code: number; reason: string } | null> {
    await Promise.race([this.#closedAt, Bun.sleep(ms)]);
    return this.closed;
  }

  close(): void {
    if (!this.closed) this.#ws.close(1000, "done");
  }
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function start(options: ServerOptions) {
  const server = createServer({ host: "127.0.0.1", port: 0, logger: silentLogger, ...options });
  const { url } = await server.listen();
  cleanup.push(() => server.stop());
  return { server, url };
}

async function connect(url: string, jwt: string, topic = "news"): Promise<Client> {
  const client = new Client(url, jwt);
  cleanup.push(() => client.close());
  await client.waitFor((f) => f.t === "server_ready");
  client.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic] } });
  await client.waitFor((f) => f.t === "subscription_update");
  return client;
}

describe("connection expiry", () => {
  test("a connection is closed 4401 with AUTH_FAILED \"token expired\" once exp (leeway 0) passes", async () => {
    const disconnects: Array<{ code: number; reason: string }> = [];
    const { server, url } = await start({
      jwt: { secret: SECRET, leewaySeconds: 0 },
      hooks: { onDisconnect: (_conn, code, reason) => void disconnects.push({ code, reason }) },
    });
    const jwt = await token("short-lived", 1);
    const client = await connect(url, jwt);
    await server.publish("news", "tick", { n: 1 });
    await client.waitFor((f) => f.tp === "news");
    const closed = await client.waitClose(4000);
    expect(closed).toEqual({ code: CloseCode.AUTH, reason: "token expired" });
    const error = client.frames.find((f) => f.t === "error");
    expect(error?.p).toMatchObject({ code: "AUTH_FAILED", message: "token expired", recoverable: false });
    expect(server.stats().connections).toBe(0);
    expect(disconnects).toEqual([{ code: CloseCode.AUTH, reason: "token expired" }]);
    // The same token cannot open a new connection either.
    const again = new Client(url, jwt);
    expect((await again.waitClose(3000))?.code).toBe(CloseCode.AUTH);
  }, 15_000);

  test("the leeway applies: open after exp, closed once exp + leeway passes", async () => {
    const { url } = await start({ jwt: { secret: SECRET, leewaySeconds: 2 } });
    const mintedAt = Date.now();
    const client = await connect(url, await token("leeway", 1));
    // exp passed one second ago, the leeway has not: still open.
    await Bun.sleep(Math.max(0, mintedAt + 2000 - Date.now()));
    expect(client.closed).toBeNull();
    const closed = await client.waitClose(4000);
    expect(closed?.code).toBe(CloseCode.AUTH);
    expect(Date.now() - mintedAt).toBeGreaterThanOrEqual(3000);
  }, 15_000);

  test("closeOnExpiry: false keeps the connection, and it still receives publications", async () => {
    const { server, url } = await start({ jwt: { secret: SECRET, leewaySeconds: 0, closeOnExpiry: false } });
    const client = await connect(url, await token("kept", 1));
    expect(await client.waitClose(2000)).toBeNull();
    await server.publish("news", "tick", { n: 1 });
    await client.waitFor((f) => f.tp === "news");
    expect(client.frames.some((f) => f.t === "error")).toBe(false);
    expect(server.stats().connections).toBe(1);
  }, 15_000);

  test("only the expired connection goes: a longer-lived token of the same user stays", async () => {
    const { server, url } = await start({ jwt: { secret: SECRET, leewaySeconds: 0 } });
    const short = await connect(url, await token("same-user", 1));
    const long = await connect(url, await token("same-user", 3600));
    expect((await short.waitClose(4000))?.code).toBe(CloseCode.AUTH);
    expect(long.closed).toBeNull();
    await server.publish("news", "tick", { n: 1 });
    await long.waitFor((f) => f.tp === "news");
    expect(server.stats().connections).toBe(1);
  }, 15_000);

  test("claims from an authenticate hook with a numeric exp expire the same way; without exp never", async () => {
    const { url } = await start({
      jwt: { leewaySeconds: 0 },
      hooks: {
        authenticate: (_request, bearer) =>
          bearer === "expiring"
            ? { userId: "hooked", claims: { exp: Date.now() / 1000 + 1 }, acl: null }
            : { userId: "forever", claims: { role: "reader" }, acl: null },
      },
    });
    const expiring = await connect(url, "expiring");
    const forever = await connect(url, "forever");
    expect((await expiring.waitClose(4000))?.code).toBe(CloseCode.AUTH);
    expect(forever.closed).toBeNull();
  }, 15_000);
});
