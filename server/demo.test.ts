/**
 * Demo mode: guest tokens, demo options, and end to end `bun server/main.ts --demo` (the page,
 * `/demo/token`, the `demo.events` ticker, client publish limited to the demo's topics).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { handshake, ROOT, spawnServer, subscribe, type ServerProcess } from "../test/exe/scenario.ts";
import { createDemoTokenIssuer, DEMO_EVENTS_TOPIC, DEMO_TOKEN_TTL_SECONDS, demoServerOptions } from "./demo.ts";
import { AuthError, createAuthenticator } from "./engine/auth.ts";
import type { ConnectionInfo } from "./types.ts";

const secret = "demo-test-secret-0123456789abcdef0123456789";
const started: ServerProcess[] = [];
afterAll(async () => {
  for (const server of started) await server.stop(2000);
});

describe("createDemoTokenIssuer", () => {
  test("signs short-lived guest tokens the server's own authenticator accepts", async () => {
    const jwt = { secret, issuer: "demo-iss", audience: ["demo-aud", "other"], kid: "k1" };
    const issue = createDemoTokenIssuer(jwt)!;
    const verify = createAuthenticator(jwt);
    const [a, b] = [await issue(), await issue()];
    const first = await verify(a);
    const second = await verify(b);
    expect(first!.userId).toMatch(/^guest-[0-9a-f]{8}$/);
    expect(second!.userId).not.toBe(first!.userId);
    // Guests reach the demo's topics only.
    expect(first!.acl!.allows(DEMO_EVENTS_TOPIC)).toBe(true);
    expect(first!.acl!.allows("demo.chat")).toBe(true);
    expect(first!.acl!.allows("prices")).toBe(false);
    expect(decodeProtectedHeader(a)).toMatchObject({ alg: "HS256", kid: "k1" });
    const claims = decodeJwt(a);
    expect(claims.exp! - claims.iat!).toBe(DEMO_TOKEN_TTL_SECONDS);
    // Not accepted by a server with another secret.
    await expect(createAuthenticator({ secret: `${secret}-other` })(a)).rejects.toBeInstanceOf(AuthError);
  });

  test("uses the allowed HS algorithm", async () => {
    const token = await createDemoTokenIssuer({ secret, algorithms: ["HS512"] })!();
    expect(decodeProtectedHeader(token).alg).toBe("HS512");
  });

  test("none without an HMAC secret", () => {
    expect(createDemoTokenIssuer(undefined)).toBeUndefined();
    expect(createDemoTokenIssuer({ jwksUrl: "http://127.0.0.1:1/jwks" })).toBeUndefined();
    expect(createDemoTokenIssuer({ secret, algorithms: ["RS256"] })).toBeUndefined();
  });
});

describe("demoServerOptions", () => {
  const conn = {} as ConnectionInfo;

  test("unless configured, clients may publish to demo.* only", async () => {
    const options = demoServerOptions({ port: 0 });
    expect(options.clientPublish).toBe(true);
    const authorize = options.hooks!.authorizePublish!;
    expect(await authorize(conn, "demo.events", "burst", {})).toBe(true);
    expect(await authorize(conn, "demo.chat", "chat_message", {})).toBe(true);
    expect(await authorize(conn, "prices", "tick", {})).toBe(false);
  });

  test("an explicit setting wins, either way", () => {
    expect(demoServerOptions({ clientPublish: false })).toEqual({ clientPublish: false });
    expect(demoServerOptions({ clientPublish: true })).toEqual({ clientPublish: true });
  });

  test("the application's publish hook still has the last word", async () => {
    const options = demoServerOptions({ hooks: { authorizePublish: async (_c, topic) => topic !== "demo.locked" } });
    const authorize = options.hooks!.authorizePublish!;
    expect(await authorize(conn, "demo.events", "x", {})).toBe(true);
    expect(await authorize(conn, "demo.locked", "x", {})).toBe(false);
    expect(await authorize(conn, "elsewhere", "x", {})).toBe(false);
  });
});

describe("bun server/main.ts --demo", () => {
  test("serves the page, guest tokens, a live ticker and demo-only client publish", async () => {
    const server = await spawnServer([process.execPath, `${ROOT}server/main.ts`, "--demo"], { WSE_JWT_SECRET: secret });
    started.push(server);

    const page = await fetch(`${server.httpUrl}/demo/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toStartWith("text/html");
    await page.text();

    const tokenResponse = await fetch(`${server.httpUrl}/demo/token`);
    expect(tokenResponse.status).toBe(200);
    expect(tokenResponse.headers.get("cache-control")).toBe("no-store");
    const token = (await tokenResponse.text()).trim();
    expect(decodeJwt(token).sub).toMatch(/^guest-/);
    expect((await fetch(`${server.httpUrl}/demo/token`, { method: "POST" })).status).toBe(405);

    // Without a token the server refuses (JWT configured); with the guest token it accepts.
    const { client, ready } = await handshake(`${server.wsUrl}?token=${encodeURIComponent(token)}`);
    expect(ready.p.details.user_id).toBe(decodeJwt(token).sub);
    const reply = await subscribe(client, [DEMO_EVENTS_TOPIC]);
    expect(reply.p.success_topics ?? reply.p.topics).toContain(DEMO_EVENTS_TOPIC);
    const tick = await client.waitFor((e) => e.tp === DEMO_EVENTS_TOPIC && e.t === "price_tick", "a price tick", 5000);
    // (typeof checks: bun's toMatchObject with expect.any() overwrote the received values)
    expect(typeof tick.p.symbol).toBe("string");
    for (const field of ["price", "change", "change_pct", "bid", "ask", "volume", "seq"]) expect(typeof tick.p[field]).toBe("number");
    expect(tick.p.ask).toBeGreaterThanOrEqual(tick.p.bid);
    const next = await client.waitFor((e) => e.tp === DEMO_EVENTS_TOPIC && e.t === "price_tick" && e.o > tick.o, "a second tick", 5000);
    expect(next.p.seq).toBeGreaterThan(tick.p.seq);

    client.send({ c: "WSE", t: "publish", cid: "ok-1", p: { topic: DEMO_EVENTS_TOPIC, type: "burst", payload: { n: 1 } } });
    await client.waitFor((e) => e.t === "publish_ack" && e.cid === "ok-1", "publish_ack");
    await client.waitFor((e) => e.tp === DEMO_EVENTS_TOPIC && e.t === "burst", "own burst");
    client.send({ c: "WSE", t: "publish", cid: "no-1", p: { topic: "prices", type: "tick", payload: {} } });
    const refused = await client.waitFor((e) => e.t === "error" && e.cid === "no-1", "publish refusal");
    expect(refused.p.code).toBe("FORBIDDEN");
    client.close();

    const summary = JSON.parse(server.output().split("\n").find((line) => line.includes('"wse server started"'))!);
    expect(summary.demo).toBe(true);
    expect(summary.client_publish).toBe("demo.* topics");
    expect(server.output()).not.toContain(secret);
    expect(await server.stop()).toBe(0);
  }, 40_000);

  test("--no-client-publish keeps publishing off; no secret → /demo/token is 404", async () => {
    const server = await spawnServer([process.execPath, `${ROOT}server/main.ts`, "--demo", "--client-publish=false"], {});
    started.push(server);
    expect((await fetch(`${server.httpUrl}/demo/token`)).status).toBe(404);
    const { client } = await handshake(server.wsUrl);
    client.send({ c: "WSE", t: "publish", cid: "off-1", p: { topic: DEMO_EVENTS_TOPIC, type: "burst", payload: {} } });
    const refused = await client.waitFor((e) => e.t === "error" && e.cid === "off-1", "publish refusal");
    expect(refused.p.code).toBe("PUBLISH_DISABLED");
    client.close();
    expect(await server.stop()).toBe(0);
  }, 30_000);
});
