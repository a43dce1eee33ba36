/**
 * Payloads the backend may publish (`POST /api/publish` takes any JSON body up to 1 MiB) must not
 * produce frames that subscribers — the project's own client included — refuse under the
 * protocol's limits (§3: frames and decompressed bodies 1 MiB, nesting 64). PROTOCOL.md §4: each publication gets the next offset and reaches every subscriber
 * of the topic with its stamp; a subscribe request is answered "always, even on partial
 * failure"; §7: bad input never stalls anything. So the server must either refuse such a
 * payload (4xx, nothing published) or deliver it in every wire form — JSON, msgpack (`M:`) and
 * encrypted (`E:`) — and recovery across it must answer and go live.
 *
 * Found by the hardening work: a payload nested ~100 deep is accepted (200, offset assigned) but
 * only plain JSON subscribers get it; the msgpack encoder throws ("Too deep objects in depth
 * 101"), so msgpack and encrypted subscribers see a gap, and a msgpack subscriber that recovers
 * across it gets `INTERNAL_ERROR`, no `subscription_update`, and no further publications. And a
 * payload nested 70 deep is fanned out in every form, but the project's own client refuses
 * envelopes nested over 64 ("envelope nesting exceeds 64"), sees a gap, recovers, drops the replay
 * again, and never delivers the next publication: one backend publish wedges every subscriber.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect, type WSEEvent } from "../../client/mod.ts";
import type { WireClient } from "../conformance/wire.ts";
import { connectWire, sleep, startHardTarget } from "./kit.ts";

const target = await startHardTarget({ clientPublish: true });
afterAll(() => target.stop());

const DEPTH = 120;
const deepBody = (topic: string) => `{"topic":"${topic}","type":"deep","payload":{"v":${"[".repeat(DEPTH)}1${"]".repeat(DEPTH)}}}`;
const stampsOf = (c: WireClient, topic: string) => c.envelopes().filter((e) => e.tp === topic).map((e) => `${e.o}:${e.t}`);

describe("deeply nested payloads from the HTTP API", () => {
  test(`nested ${DEPTH} deep: refused, or delivered to JSON, msgpack and encrypted subscribers alike`, async () => {
    const topic = `deep.${crypto.randomUUID().slice(0, 8)}`;
    const json = await connectWire(target, "deep-json");
    const msgpack = await connectWire(target, "deep-msgpack", { query: { format: "msgpack" } });
    const encrypted = await connectWire(target, "deep-e2e", { encryption: true });
    try {
      for (const c of [json, msgpack, encrypted]) await c.subscribe([topic]);
      await target.publish(topic, "before", {});
      const res = await target.api("/api/publish", { method: "POST", body: deepBody(topic) });
      const accepted = res.status === 200;
      await res.arrayBuffer();
      await target.publish(topic, "after", {});
      await sleep(500);
      const expected = accepted ? ["0:before", "1:deep", "2:after"] : ["0:before", "1:after"];
      expect({ accepted, json: stampsOf(json, topic), msgpack: stampsOf(msgpack, topic), encrypted: stampsOf(encrypted, topic) }).toEqual({
        accepted,
        json: expected,
        msgpack: expected,
        encrypted: expected,
      });
    } finally {
      for (const c of [json, msgpack, encrypted]) await c.close();
    }
  }, 15_000);

  test(`nested ${DEPTH} deep: a msgpack subscriber recovering across it gets its subscription_update and then live publications`, async () => {
    const topic = `deep-recover.${crypto.randomUUID().slice(0, 8)}`;
    const first = await target.publish(topic, "before", {});
    const res = await target.api("/api/publish", { method: "POST", body: deepBody(topic) });
    await res.arrayBuffer();
    await target.publish(topic, "after", {});
    const client = await connectWire(target, "deep-recover", { query: { format: "msgpack" } });
    try {
      const since = client.mark();
      const reply = await client.subscribe([topic], { recover: true, recovery: { [topic]: { epoch: first.epoch, offset: first.offset } } }, 5000).catch((error) => {
        throw new Error(`no subscription_update: ${String(error).slice(0, 300)}`);
      });
      expect(reply.t).toBe("subscription_update");
      const live = await target.publish(topic, "live", {});
      await client.waitFor((f) => f.envelope?.tp === topic && f.envelope.o === live.offset, 5000, since, "the live publication");
    } finally {
      await client.close();
    }
  }, 15_000);

  test("a real client (json and msgpack) keeps its stream after a payload nested 70 deep: refused by the API, or delivered", async () => {
    const topic = `deep-client.${crypto.randomUUID().slice(0, 8)}`;
    const seen: Record<string, string[]> = { json: [], msgpack: [] };
    const clients = await Promise.all(
      (["json", "msgpack"] as const).map(async (format) => {
        const client = await connect(target.wsUrl, { token: await target.mintToken({ sub: `deep-${format}` }), topics: [topic], format, reconnect: false });
        client.onAny((e: WSEEvent) => {
          if (e.topic === topic && e.offset !== undefined) seen[format]!.push(`${e.offset}:${e.type}`);
        });
        return client;
      }),
    );
    try {
      await target.publish(topic, "before", {});
      const res = await target.api("/api/publish", { method: "POST", body: `{"topic":"${topic}","type":"deep","payload":{"v":${"[".repeat(70)}1${"]".repeat(70)}}}` });
      const accepted = res.status === 200;
      await res.arrayBuffer();
      const after = await target.publish(topic, "after", {});
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !Object.values(seen).every((list) => list.includes(`${after.offset}:after`))) await sleep(50);
      const expected = accepted ? ["0:before", "1:deep", "2:after"] : ["0:before", "1:after"];
      expect({ accepted, ...seen } as Record<string, unknown>).toEqual({ accepted, json: expected, msgpack: expected });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 15_000);
});

describe("payloads near the 1 MiB limit", () => {
  test("an API payload just under the 1 MiB body limit: a real client (json, msgpack, encrypted) keeps its stream — refused, or delivered", async () => {
    const topic = `big.${crypto.randomUUID().slice(0, 8)}`;
    const variants = [
      ["json", { format: "json" as const }],
      ["msgpack", { format: "msgpack" as const }],
      ["json+e2e", { format: "json" as const, encryption: true }],
    ] as const;
    const seen: Record<string, string[]> = {};
    const clients = await Promise.all(
      variants.map(async ([name, opts]) => {
        seen[name] = [];
        const client = await connect(target.wsUrl, { token: await target.mintToken({ sub: `big-${name}` }), topics: [topic], reconnect: false, ...opts });
        client.onAny((e: WSEEvent) => {
          if (e.topic === topic && e.offset !== undefined) seen[name]!.push(`${e.offset}:${e.type}`);
        });
        return client;
      }),
    );
    try {
      await target.publish(topic, "before", {});
      const body = (n: number) => JSON.stringify({ topic, type: "big", payload: { s: "x".repeat(n) } });
      let n = 1024 * 1024 - 40;
      while (body(n).length > 1024 * 1024) n--;
      const res = await target.api("/api/publish", { method: "POST", body: body(n) });
      const accepted = res.status === 200;
      await res.arrayBuffer();
      const after = await target.publish(topic, "after", {});
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !Object.values(seen).every((list) => list.includes(`${after.offset}:after`))) await sleep(50);
      const expected = accepted ? ["0:before", "1:big", "2:after"] : ["0:before", "1:after"];
      expect({ accepted, ...seen } as Record<string, unknown>).toEqual({ accepted, json: expected, msgpack: expected, "json+e2e": expected });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  }, 15_000);

  test("a client's publish frame of exactly 1 MiB: refused, or delivered to a real subscriber without wedging it", async () => {
    const topic = `big-client.${crypto.randomUUID().slice(0, 8)}`;
    const seen: string[] = [];
    const subscriber = await connect(target.wsUrl, { token: await target.mintToken({ sub: "big-victim" }), topics: [topic], reconnect: false });
    subscriber.onAny((e: WSEEvent) => {
      if (e.topic === topic && e.offset !== undefined) seen.push(`${e.offset}:${e.type}`);
    });
    const publisher = await connectWire(target, "big-publisher");
    try {
      await target.publish(topic, "before", {});
      const frame = (n: number) => JSON.stringify({ t: "publish", p: { topic, type: "big", payload: { s: "x".repeat(n) } }, cid: "big" });
      let n = 1024 * 1024;
      while (frame(n).length > 1024 * 1024) n--;
      const since = publisher.mark();
      publisher.sendRaw(frame(n));
      const answer = await publisher.waitFor((f) => f.envelope?.t === "publish_ack" || f.envelope?.t === "error", 5000, since, "publish_ack or error");
      const accepted = answer.envelope!.t === "publish_ack";
      const after = await target.publish(topic, "after", {});
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline && !seen.includes(`${after.offset}:after`)) await sleep(50);
      expect({ accepted, seen }).toEqual({ accepted, seen: accepted ? ["0:before", "1:big", "2:after"] : ["0:before", "1:after"] });
    } finally {
      await subscriber.close();
      await publisher.close();
    }
  }, 15_000);
});
