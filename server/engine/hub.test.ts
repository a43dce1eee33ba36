import { describe, expect, test } from "bun:test";
import type { SessionKey } from "../../wasm/api.ts";
import { nativeCodec } from "../../wasm/native.ts";
import type { Publication } from "../broker/types.ts";
import { Hub, type HubMember, topicChannel } from "./hub.ts";
import { Outbound, publicationEnvelope, Variant } from "./outbound.ts";

const ctx = { codec: nativeCodec, compressionThreshold: 1024 };

/** A member that records its topics the way a session does: added at hold, forgotten after remove. */
class Member implements HubMember {
  channels = new Set<string>();
  topics = new Set<string>();
  direct: Array<string | Uint8Array> = [];
  constructor(
    public variant: Variant = Variant.JSON,
    public key: SessionKey | null = null,
  ) {}
  hasTopic(topic: string) {
    return this.topics.has(topic);
  }
  join(c: string) {
    this.channels.add(c);
  }
  leave(c: string) {
    this.channels.delete(c);
  }
  sendFrame(f: string | Uint8Array) {
    this.direct.push(f);
  }
}

/** Hub calls in the order `subscribe.ts` makes them (hold, then record; remove, then forget). */
function hold(hub: Hub, topic: string, m: Member) {
  const held = hub.hold(topic, m);
  m.topics.add(topic);
  return held;
}
function remove(hub: Hub, topic: string, m: Member): boolean {
  const emptied = hub.remove(topic, m);
  m.topics.delete(topic);
  return emptied;
}

function setup() {
  const hub = new Hub();
  const published: Array<[string, string | Uint8Array]> = [];
  hub.setFanOut({ publish: (channel, frame) => void published.push([channel, frame]) });
  return { hub, published };
}

function pub(offset: number): { publication: Publication; out: Outbound } {
  const publication: Publication = { topic: "t", epoch: "0000beef", offset, data: { type: "x", payload: { offset }, id: `${offset}`, ts: "" } };
  return { publication, out: new Outbound(ctx, publicationEnvelope(publication)) };
}

describe("Hub", () => {
  test("held members buffer, released members join the variant channel", () => {
    const { hub, published } = setup();
    const m = new Member();
    const { buffer, created } = hold(hub, "t", m);
    expect(created).toBe(true);
    const p0 = pub(0);
    hub.deliver("t", p0.out, p0.publication);
    expect(buffer.map((h) => h.publication?.offset)).toEqual([0]);
    expect(published).toEqual([]);
    expect(hub.release("t", m)).toBe(true);
    expect(m.channels.has(topicChannel(Variant.JSON, "t"))).toBe(true);
    const p1 = pub(1);
    const count = hub.deliver("t", p1.out, p1.publication);
    expect(published.map(([c]) => c)).toEqual([topicChannel(Variant.JSON, "t")]);
    expect(count.messages).toBe(1);
    expect(buffer.length).toBe(1); // no longer buffered
  });

  test("one publish per variant in use, whatever the member count; encrypted members individually", () => {
    const { hub, published } = setup();
    const members = [new Member(), new Member(), new Member(Variant.MSGPACK), new Member(Variant.JSON, nativeCodec.importKey(new Uint8Array(32)))];
    for (const m of members) {
      hold(hub, "t", m);
      hub.release("t", m);
    }
    const p = pub(0);
    const count = hub.deliver("t", p.out, p.publication);
    expect(published.map(([c]) => c).sort()).toEqual([topicChannel(Variant.JSON, "t"), topicChannel(Variant.MSGPACK, "t")].sort());
    expect(count.messages).toBe(3); // the encrypted member counts its own frame when it sends it
    expect(members[3]!.direct.length).toBe(1);
    expect(members[3]!.channels.size).toBe(0);
  });

  test("remove reports the last member; rewire moves the channel", () => {
    const { hub } = setup();
    const a = new Member();
    const b = new Member();
    for (const m of [a, b]) {
      hold(hub, "t", m);
      hub.release("t", m);
    }
    a.variant = Variant.ZSTD;
    hub.rewire(a, ["t"], { variant: Variant.JSON, key: null });
    expect([...a.channels]).toEqual([topicChannel(Variant.ZSTD, "t")]);
    expect(remove(hub, "t", a)).toBe(false);
    expect(a.channels.size).toBe(0);
    expect(remove(hub, "t", b)).toBe(true);
    expect(hub.has("t")).toBe(false);
  });

  test("holding a live member detaches it until released (re-subscribe with recovery)", () => {
    const { hub, published } = setup();
    const m = new Member();
    hold(hub, "t", m);
    hub.release("t", m);
    const { buffer, created } = hold(hub, "t", m);
    expect(created).toBe(false);
    expect(m.channels.size).toBe(0);
    const p = pub(5);
    hub.deliver("t", p.out, p.publication);
    expect(published.length).toBe(0);
    expect(buffer.length).toBe(1);
  });

  test("counts live, held and encrypted members; isLive tells live from held; removing a live member leaves its channel", () => {
    const { hub, published } = setup();
    const plain = [new Member(), new Member(Variant.ZSTD), new Member()];
    const secret = new Member(Variant.JSON, nativeCodec.importKey(new Uint8Array(32)));
    for (const m of [...plain, secret]) {
      hold(hub, "t", m);
      hub.release("t", m);
    }
    const late = new Member();
    hold(hub, "t", late);
    expect(hub.count("t")).toBe(5);
    expect(hub.isLive("t", plain[0]!)).toBe(true);
    expect(hub.isLive("t", secret)).toBe(true);
    expect(hub.isLive("t", late)).toBe(false);
    expect(hub.isLive("other", plain[0]!)).toBe(false);
    expect(remove(hub, "t", plain[0]!)).toBe(false);
    expect(plain[0]!.channels.size).toBe(0);
    expect(hub.count("t")).toBe(4);
    // A second hold of a held member neither detaches nor double-counts anything.
    hold(hub, "t", late);
    expect(hub.count("t")).toBe(4);
    const p = pub(0);
    expect(hub.deliver("t", p.out, p.publication).messages).toBe(2); // plain[1] (zstd) and plain[2] (json)
    expect(published.map(([c]) => c).sort()).toEqual([topicChannel(Variant.JSON, "t"), topicChannel(Variant.ZSTD, "t")].sort());
    expect(secret.direct.length).toBe(1);
    for (const m of [plain[1]!, plain[2]!, secret]) expect(remove(hub, "t", m)).toBe(false);
    expect(remove(hub, "t", late)).toBe(true);
    expect(hub.has("t")).toBe(false);
    expect(hub.count("t")).toBe(0);
  });

  test("release after remove is refused", () => {
    const { hub } = setup();
    const m = new Member();
    hold(hub, "t", m);
    remove(hub, "t", m);
    expect(hub.release("t", m)).toBe(false);
    expect(m.channels.size).toBe(0);
  });
});
