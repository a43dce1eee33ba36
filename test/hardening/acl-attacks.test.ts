/**
 * Attacks on authentication and the `wse_topics` ACL that the conformance suite does not try
 * (it covers the plain refusals: alg none, RS256/HS256 confusion, expiry, nbf, kid, tampering,
 * oversize, a denied subscribe/recovery/publish). Here the attacker holds a valid token with a
 * restricted ACL and looks for a way around it: topic names that are globs, look-alike names,
 * recovery maps and legacy request shapes, publishes wrapped in batches, `E:`, `M:`, `C:` and
 * aliases, presence and snapshot requests, a malformed ACL claim, and the HTTP API without a key
 * or with near-miss keys and paths. Every attack has a positive control beside it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { deflateSync } from "node:zlib";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { SignJWT } from "jose";
import { encryptFrame, utf8, withPrefix } from "../conformance/frames.ts";
import { ClientPool, connectReady, payloadOf, uniqueTopic } from "../conformance/support.ts";
import { type Target } from "../conformance/target.ts";
import { onTopic, sleep, type WireClient } from "../conformance/wire.ts";
import { startHardTarget } from "./kit.ts";

const target = await startHardTarget({ clientPublish: true, presence: true });
afterAll(() => target.stop());
const pool = new ClientPool();

/** The attacker's ACL: public.* and chat.? only, never public.secret*. */
const ACL = { wse_topics: { allow: ["public.*", "chat.?"], deny: ["public.secret*"] } };

async function attacker(sub = "mallory", encryption = false): Promise<WireClient> {
  return connectReady(pool, target, { claims: { sub, ...ACL }, encryption });
}

async function observer(topics: string[], sub = "victim", presence?: Record<string, unknown>): Promise<WireClient> {
  const client = await connectReady(pool, target, { claims: { sub } });
  await client.subscribe(topics, presence ? { presence } : {});
  return client;
}

/** Publishes a marker to `topic` and waits until `client` got it: everything before has arrived. */
async function barrier(client: WireClient, topic: string): Promise<void> {
  const marker = crypto.randomUUID();
  await target.publish(topic, "barrier", { marker });
  await client.waitFor((f) => f.envelope?.tp === topic && (f.envelope.p as { marker?: string })?.marker === marker, 5000, 0, "barrier");
}

function dataOn(client: WireClient, topic: string): number {
  return client.frames.filter(onTopic(topic)).filter((f) => f.envelope!.t !== "barrier").length;
}

describe("topic names are literal, never patterns", () => {
  test("subscribing to the literal name 'public.*' (allowed by the glob) receives nothing published to public.secret.*", async () => {
    const m = await attacker();
    const reply = payloadOf(await m.subscribe(["public.*", "public.?", "public.secret*"]));
    // Control: the literal names the allow-glob matches are accepted, the denied one is not.
    expect([...reply.success_topics].sort()).toEqual(["public.*", "public.?"]);
    expect(reply.failed_topics).toEqual(["public.secret*"]);
    await target.publish("public.secret.plans", "secret", { s: 1 });
    await target.publish("public.x", "not-for-literal", { s: 2 });
    await barrier(m, "public.*");
    expect(m.envelopes().filter((e) => e.t === "secret" || e.t === "not-for-literal")).toEqual([]);
  });

  test("look-alike names (case, zero-width, full-width, spaces) are other topics: no delivery crosses over", async () => {
    const topic = `public.secret.${uniqueTopic("x")}`;
    const lookAlikes = [topic.toUpperCase(), topic.replace("public", "Public"), `${topic}\u200b`, topic.replace("p", "\uff50"), ` ${topic}`, `${topic} `, topic.normalize("NFD")];
    const m = await attacker();
    const reply = payloadOf(await m.subscribe(lookAlikes));
    const accepted: string[] = reply.success_topics;
    expect(accepted).not.toContain(topic);
    const victim = await observer([topic]);
    await target.publish(topic, "secret", { s: 1 });
    await victim.waitFor(onTopic(topic), 5000);
    for (const t of accepted) await barrier(m, t);
    expect(m.envelopes().filter((e) => e.t === "secret")).toEqual([]);
  });
});

describe("recovery cannot reach a denied topic", () => {
  test("a recovery position for a denied topic, riding on an allowed subscribe, replays nothing of it", async () => {
    const secret = `public.secret.${uniqueTopic("r")}`;
    const allowed = `public.${uniqueTopic("ok")}`;
    const first = await target.publish(secret, "secret", { n: 0 });
    for (let i = 1; i < 5; i++) await target.publish(secret, "secret", { n: i });
    await target.publish(allowed, "open", { n: 0 });
    const m = await attacker();
    const reply = payloadOf(
      await m.subscribe([allowed], { recover: true, recovery: { [secret]: { epoch: first.epoch, offset: 0 }, [allowed]: { epoch: "00000000", offset: 0 } } }),
    );
    expect(reply.success_topics).toEqual([allowed]);
    expect(Object.keys(reply.recovery ?? {})).toEqual([allowed]);
    await barrier(m, allowed);
    expect(dataOn(m, secret)).toBe(0);
  });

  test("legacy shapes (p.topic, a comma string, top-level epoch/offset) are held to the ACL too", async () => {
    const secret = `public.secret.${uniqueTopic("l")}`;
    const pos = await target.publish(secret, "secret", { n: 0 });
    await target.publish(secret, "secret", { n: 1 });
    const m = await attacker();
    const shapes = [
      { action: "subscribe", topic: secret, recover: true, epoch: pos.epoch, offset: -1 },
      { action: "subscribe", topics: `public.ok,${secret}`, recover: true, epoch: pos.epoch, offset: -1 },
      { topics: [secret], recover: true, recovery: { [secret]: { epoch: pos.epoch, offset: -1 } } },
    ];
    for (const p of shapes) {
      const since = m.mark();
      m.send({ c: "WSE", t: "subscription", p });
      const reply = payloadOf(await m.waitForType("subscription_update", 5000, since));
      expect(reply.success_topics ?? []).not.toContain(secret);
      expect(reply.failed_topics).toContain(secret);
    }
    await target.publish(secret, "secret", { n: 2 });
    await barrier(m, "public.ok");
    expect(dataOn(m, secret)).toBe(0);
  });

  test("a __proto__ key in the recovery map neither crashes nor grants anything", async () => {
    const allowed = `public.${uniqueTopic("p")}`;
    const m = await attacker();
    const since = m.mark();
    m.sendRaw(`{"c":"WSE","t":"subscription_update","p":{"action":"subscribe","topics":["${allowed}"],"recover":true,"recovery":{"__proto__":{"epoch":"00000000","offset":0},"constructor":{"epoch":1}}}}`);
    const reply = payloadOf(await m.waitForType("subscription_update", 5000, since));
    expect(reply.success_topics).toEqual([allowed]);
  });
});

describe("client publish to a denied topic, in every wrapper", () => {
  const wrappers: [string, (m: WireClient, env: Record<string, unknown>) => Promise<void> | void][] = [
    ["plain text", (m, env) => m.send(env)],
    ["inside a batch", (m, env) => m.send({ t: "batch", p: { messages: [{ t: "ping", p: {} }, env], count: 2 } })],
    ["as C: (zlib)", (m, env) => m.sendRaw(withPrefix("C:", deflateSync(utf8(JSON.stringify(env)))))],
    ["as M: (msgpack)", (m, env) => m.sendRaw(withPrefix("M:", msgpackEncode(env)))],
    ["with the type/payload aliases", (m, env) => m.send({ type: "publish", payload: env.p, cid: env.cid })],
    ["behind the legacy WSE{ prefix", (m, env) => m.sendRaw(`WSE${JSON.stringify(env)}`)],
  ];
  for (const [label, send] of wrappers) {
    test(`${label} → FORBIDDEN, nothing delivered`, async () => {
      const secret = `public.secret.${uniqueTopic("w")}`;
      const victim = await observer([secret]);
      const m = await attacker();
      const since = m.mark();
      await send(m, { t: "publish", p: { topic: secret, type: "forged", payload: { evil: true } }, cid: "forge" });
      const err = await m.waitForType("error", 5000, since);
      expect(payloadOf(err).code).toBe("FORBIDDEN");
      // Control: the same wrapper publishes fine to an allowed topic.
      const open = `public.${uniqueTopic("open")}`;
      await send(m, { t: "publish", p: { topic: open, type: "fine", payload: {} }, cid: "ok" });
      await m.waitFor((f) => f.envelope?.t === "publish_ack" && payloadOf(f.envelope).topic === open, 5000, since);
      await barrier(victim, secret);
      expect(victim.envelopes().filter((e) => e.t === "forged")).toEqual([]);
    });
  }

  test("inside E: (encrypted) → FORBIDDEN, nothing delivered", async () => {
    const secret = `public.secret.${uniqueTopic("e")}`;
    const victim = await observer([secret]);
    const m = await attacker("mallory-e2e", true);
    expect(m.key).not.toBeNull();
    const since = m.mark();
    await m.sendEncrypted({ t: "publish", p: { topic: secret, type: "forged", payload: {} }, cid: "e" });
    expect(payloadOf(await m.waitForType("error", 5000, since)).code).toBe("FORBIDDEN");
    await barrier(victim, secret);
    expect(victim.envelopes().filter((e) => e.t === "forged")).toEqual([]);
  });

  test("a topic smuggled as an array, an object or with a control character is refused", async () => {
    const secret = `public.secret.${uniqueTopic("s")}`;
    const victim = await observer([secret]);
    const m = await attacker();
    for (const topic of [[secret], { toString: secret }, `${secret}\u0000`, `public.ok\u0000${secret}`]) {
      const since = m.mark();
      m.send({ t: "publish", p: { topic, type: "forged", payload: {} } });
      const code = payloadOf(await m.waitForType("error", 5000, since)).code;
      expect(["INVALID_TOPIC", "INVALID_MESSAGE", "FORBIDDEN"]).toContain(code);
    }
    await barrier(victim, secret);
    expect(victim.envelopes().filter((e) => e.t === "forged")).toEqual([]);
  });
});

describe("presence and snapshots of a denied topic", () => {
  test("presence_request (plain, batched, encrypted) → FORBIDDEN and no member list", async () => {
    const secret = `public.secret.${uniqueTopic("pr")}`;
    await observer([secret], "alice", { status: "secret-meeting" });
    const m = await attacker("mallory-p", true);
    const since = m.mark();
    m.send({ t: "presence_request", p: { topic: secret }, cid: "p1" });
    m.send({ t: "batch", p: { messages: [{ t: "presence_request", p: { topic: secret } }] } });
    await m.sendEncrypted({ t: "presence_request", p: { topic: secret }, cid: "p3" });
    await m.waitForCount((f) => f.envelope?.t === "error", 3, 5000, since);
    const codes = m.envelopes(since).filter((e) => e.t === "error").map((e) => payloadOf(e).code);
    expect(codes).toEqual(["FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]);
    expect(m.envelopes(since).filter((e) => e.t === "presence")).toEqual([]);
    // Control: an allowed topic answers.
    const open = `public.${uniqueTopic("po")}`;
    m.send({ t: "presence_request", p: { topic: open } });
    expect(payloadOf(await m.waitForType("presence", 5000, since)).topic).toBe(open);
    expect(JSON.stringify(m.envelopes(since))).not.toContain("secret-meeting");
  });

  test("subscribing a denied topic with presence data announces nothing there; presence_update does not reach it", async () => {
    const secret = `public.secret.${uniqueTopic("pj")}`;
    const victim = await observer([secret], "alice", { here: true });
    const m = await attacker("mallory-join");
    await m.subscribe([secret, "public.lobby"], { presence: { spy: true } });
    m.send({ t: "presence_update", p: { data: { spy: "updated" } } });
    await sleep(300);
    await barrier(victim, secret);
    const seen = victim.envelopes().filter((e) => String(e.t).startsWith("presence") && JSON.stringify(e.p).includes("mallory-join"));
    expect(seen).toEqual([]);
    const api = await (await target.api(`/api/presence/${encodeURIComponent(secret)}`)).json();
    expect(JSON.stringify(api)).not.toContain("mallory-join");
    expect(JSON.stringify(api)).toContain("alice");
  });

  test("sync_request for a denied topic does not list it as served", async () => {
    const secret = `public.secret.${uniqueTopic("sn")}`;
    const m = await attacker();
    const since = m.mark();
    m.send({ c: "S", t: "sync_request", p: { topics: [secret, "public.fine"] } });
    const done = payloadOf(await m.waitForType("snapshot_complete", 5000, since));
    expect(done.topics).toEqual(["public.fine"]);
  });
});

describe("the ACL claim itself", () => {
  const shapes: [string, unknown][] = [
    ["a string", "public.*"],
    ["an array", ["public.*"]],
    ["allow as a string", { allow: "*" }],
    ["deny as a string (would fail open if ignored)", { allow: ["*"], deny: "public.secret*" }],
    ["a number inside allow", { allow: [1] }],
  ];
  for (const [label, claim] of shapes) {
    test(`malformed wse_topics (${label}) → refused with AUTH_FAILED, never treated as no restriction`, async () => {
      const client = await pool.connectWithToken(target, await target.mintToken({ sub: "odd-acl", wse_topics: claim as never }));
      const close = await client.waitClose(5000);
      expect(close.code).toBe(4401);
      expect(payloadOf(client.frames[0]?.envelope).code).toBe("AUTH_FAILED");
    });
  }

  test("token header tricks: alg 'NONE'/'nOnE', HS256 with an empty signature, a JWE-shaped token, crit header, exp as a string", async () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const exp = Math.floor(Date.now() / 1000) + 300;
    const claims = { sub: "root", exp };
    const secret = new TextEncoder().encode(target.jwtSecret!);
    const tokens = [
      `${b64({ alg: "NONE" })}.${b64(claims)}.`,
      `${b64({ alg: "nOnE" })}.${b64(claims)}.`,
      `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}.`,
      `${b64({ alg: "dir", enc: "A256GCM" })}..${b64("iv")}.${b64("ct")}.${b64("tag")}`,
      await hs256Raw({ alg: "HS256", crit: ["x-evil"], "x-evil": 1 }, claims, secret),
      await new SignJWT({ sub: "root", exp: String(exp) as never }).setProtectedHeader({ alg: "HS256" }).sign(secret),
    ];
    for (const token of tokens) {
      const client = await pool.connectWithToken(target, token);
      const close = await client.waitClose(5000);
      expect(close.code).toBe(4401);
    }
    // Control: the same claims, properly signed, are accepted.
    const ok = await pool.connectWithToken(target, await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(secret));
    expect(payloadOf(await ok.waitForType("server_ready")).details.user_id).toBe("root");
  });
});

/** Signs any header and claims with HS256 by hand (jose refuses to sign some hostile headers). */
async function hs256Raw(header: unknown, claims: unknown, secret: Uint8Array): Promise<string> {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64(header)}.${b64(claims)}`;
  const key = await crypto.subtle.importKey("raw", secret as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(input) as BufferSource));
  return `${input}.${Buffer.from(sig).toString("base64url")}`;
}

describe("HTTP API without the key", () => {
  const routes: [string, string, unknown?][] = [
    ["POST", "/api/publish", { topic: "public.api", type: "forged", payload: {} }],
    ["POST", "/api/broadcast", { type: "forged", payload: {} }],
    ["POST", "/api/disconnect", { user_id: "victim-api" }],
    ["GET", "/api/presence/public.api"],
    ["GET", "/api/history/public.api"],
  ];

  async function call(method: string, path: string, body: unknown, authorization?: string): Promise<Response> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (authorization !== undefined) headers.authorization = authorization;
    return fetch(`${target.httpUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  }

  test("no key, wrong keys and near-miss keys get 401 on every route, with no side effect", async () => {
    const victim = await observer(["public.api"], "victim-api");
    const key = (target as Target & { apiKey?: string }).apiKey ?? "";
    const userToken = await target.mintToken({ sub: "victim-api" });
    const presented: (string | undefined)[] = [
      undefined,
      "",
      "Bearer",
      "Bearer ",
      "Bearer wrong",
      `Bearer ${key.slice(0, -1)}`,
      `Bearer ${key}x`,
      `Bearer ${key.slice(0, key.length / 2)}`,
      `Basic ${Buffer.from(`api:${key}`).toString("base64")}`,
      `Token ${key}`,
      `Bearer ${userToken}`,
      "Bearer undefined",
      "Bearer null",
    ];
    expect(key.length).toBeGreaterThan(10);
    for (const auth of presented) {
      for (const [method, path, body] of routes) {
        const res = await call(method, path, body, auth);
        const text = await res.text();
        if (![401, 403].includes(res.status)) throw new Error(`${method} ${path} with ${JSON.stringify(auth?.slice(0, 30))} → ${res.status} ${text}`);
        expect(text).not.toContain("victim-api");
      }
      // The key in the query string is not a credential either.
      const res = await call("POST", `/api/publish?api_key=${encodeURIComponent(key)}&key=${encodeURIComponent(key)}`, routes[0]![2], auth);
      await res.arrayBuffer();
      expect([401, 403]).toContain(res.status);
    }
    await sleep(200);
    expect(victim.closeInfo).toBeNull();
    expect(victim.envelopes().filter((e) => e.t === "forged")).toEqual([]);
    // Control: the real key works on the same route.
    const ok = await call("POST", "/api/publish", { topic: "public.api", type: "real", payload: {} }, `Bearer ${key}`);
    expect(ok.status).toBe(200);
    await victim.waitForType("real");
  });

  test("path tricks (case, double slash, dot segments, encoding, trailing slash) never reach a route without the key", async () => {
    const paths = ["/API/publish", "/Api/Publish", "//api/publish", "/api//publish", "/./api/publish", "/x/../api/publish", "/api/%70ublish", "/%61pi/publish", "/api/publish/", "/api/publish%00", "/api/publish;x"];
    const victim = await observer(["public.api2"], "victim-path");
    for (const path of paths) {
      const res = await fetch(`${target.httpUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ topic: "public.api2", type: "forged", payload: {} }) });
      await res.arrayBuffer();
      if (![401, 403, 404, 400].includes(res.status)) throw new Error(`POST ${path} without a key → ${res.status}`);
    }
    await sleep(200);
    expect(victim.envelopes().filter((e) => e.t === "forged")).toEqual([]);
  });
});
