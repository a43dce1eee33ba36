/**
 * PROTOCOL.md §7 inbound rate limit (per connection token bucket): below 20 % left →
 * `rate_limit_warning` (at most once a second); empty → the message is dropped with
 * `error RATE_LIMITED` carrying `retry_after`; sustained abuse → close 4429. Other connections are
 * not affected. The requests used are subscribe requests, each of which gets exactly one reply
 * when processed, so a test can count what was processed and what was dropped.
 */
import { afterAll, describe, expect } from "bun:test";
import { ClientPool, connectReady, payloadOf, testWith, uniqueTopic } from "./support.ts";
import { startTarget } from "./target.ts";
import { ofType, sleep, type WireClient } from "./wire.ts";

const CAPACITY = 20;
const REFILL = 5;
const target = await startTarget({ rateLimitCapacity: CAPACITY, rateLimitRefill: REFILL });
afterAll(() => target.stop());
const pool = new ClientPool();

function burst(client: WireClient, n: number, topic: string): void {
  for (let i = 0; i < n; i++) client.send({ c: "WSE", t: "subscription_update", p: { action: "subscribe", topics: [topic] } });
}

describe("inbound rate limit", () => {
  testWith(target, ["jwt", "small-rate-limit"], "server_hello announces the limits", async () => {
    const client = await connectReady(pool, target);
    const limits = payloadOf(client.handshakeResult.hello).limits;
    expect(limits.rate_limit_capacity).toBe(CAPACITY);
    expect(limits.rate_limit_refill).toBe(REFILL);
  });

  testWith(target, ["jwt", "small-rate-limit"], "warning below 20 %, then RATE_LIMITED drops, and the bucket refills", async () => {
    const client = await connectReady(pool, target);
    const topic = uniqueTopic("rl");
    const since = client.mark();
    // The hello already took one token; 17 more leaves 2 (< 20 % of 20) without emptying it.
    burst(client, 17, topic);
    await client.waitForCount(ofType("subscription_update"), 17, 5000, since);
    const warning = await client.waitForType("rate_limit_warning", 3000, since);
    expect(warning.c).toBe("WSE");
    const w = payloadOf(warning);
    for (const k of ["current_rate", "limit", "remaining", "retry_after"]) expect(typeof w[k]).toBe("number");
    expect(w.remaining).toBeLessThan(CAPACITY * 0.2);
    expect(client.frames.slice(since).filter((f) => f.envelope?.t === "error")).toEqual([]);

    const before = client.mark();
    burst(client, 15, topic);
    await client.waitFor((f) => f.envelope?.t === "error" && payloadOf(f.envelope).code === "RATE_LIMITED", 5000, before, "RATE_LIMITED");
    await sleep(300);
    const replies = client.frames.slice(before).filter(ofType("subscription_update")).length;
    expect(replies).toBeLessThan(15); // some were dropped
    expect(replies).toBeGreaterThanOrEqual(1); // the bucket still had a little left (or refilled)
    // Warnings are limited to one a second: the two bursts were < 1 s apart.
    expect(client.frames.slice(since).filter(ofType("rate_limit_warning")).length).toBeLessThanOrEqual(2);
    expect(client.closeInfo).toBeNull();

    await sleep(1500); // refill ≥ 7 tokens
    const later = client.mark();
    burst(client, 3, topic);
    await client.waitForCount(ofType("subscription_update"), 3, 5000, later);
  });

  testWith(target, ["jwt", "small-rate-limit"], "RATE_LIMITED carries retry_after in p (as the warning does, and as 2.x sends it)", async () => {
    const client = await connectReady(pool, target);
    const since = client.mark();
    burst(client, CAPACITY + 5, uniqueTopic("retry"));
    const err = await client.waitFor((f) => f.envelope?.t === "error" && payloadOf(f.envelope).code === "RATE_LIMITED", 5000, since, "RATE_LIMITED");
    const p = payloadOf(err.envelope);
    expect(typeof p.retry_after).toBe("number");
    expect(p.retry_after).toBeGreaterThan(0);
    expect(p.recoverable).toBe(true);
  });

  testWith(target, ["jwt", "small-rate-limit"], "sustained abuse → close 4429, while another connection is unaffected", async () => {
    const bystander = await connectReady(pool, target, { claims: { sub: "bystander" } });
    const abuser = await connectReady(pool, target, { claims: { sub: "abuser" } });
    const topic = uniqueTopic("abuse");
    for (let round = 0; round < 20 && !abuser.closeInfo; round++) {
      burst(abuser, 50, topic);
      await sleep(100);
    }
    const close = await abuser.waitClose(5000);
    expect(close.code).toBe(4429);
    const since = bystander.mark();
    bystander.send({ c: "WSE", t: "ping", p: { timestamp: 1 } });
    await bystander.waitForType("PONG", 3000, since);
    const reply = await bystander.subscribe([uniqueTopic("fine")]);
    expect(payloadOf(reply).success).toBe(true);
  });
});
