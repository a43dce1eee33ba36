/**
 * The generator's loss/duplicate accounting through its allocation-free fast path: a scripted
 * WSE server on loopback sends stamped publications with a gap, a duplicate and a reordering
 * (as text frames in separate and in one corked write, plus a `C:` frame and a frame the fast
 * scanner must hand to `JSON.parse`), and the generator process must count each of them.
 */
import { afterAll, expect, test } from "bun:test";
import { deflateSync } from "node:zlib";
import type { ServerWebSocket } from "bun";
import { Fleet } from "./lib/fleet.ts";
import { killAll } from "./lib/procs.ts";

afterAll(() => killAll());

function publication(offset: number, topic = '"fanout"'): string {
  return `{"tp":${topic},"e":"0000beef","o":${offset},"c":"U","t":"bench","id":"x${offset}","v":1,"p":{"pad":"word text","n":${offset - 1},"ts0":${Date.now()}.25}}`;
}

/** Offsets after baseline 0: 1, 2 (as C:), 2 again, 4 (gap of 1), 3 (late), 5, 8 (gap of 2), 9 (escaped topic). */
function sendScript(ws: ServerWebSocket<unknown>): void {
  ws.send(publication(1));
  ws.send(new Uint8Array([0x43, 0x3a, ...deflateSync(Buffer.from(publication(2)))]));
  for (const offset of [2, 4, 3, 5, 8]) ws.send(publication(offset));
  ws.send(publication(9, '"fan\\u006fut"'));
}

/** A WSE server that answers the handshake and a subscribe with offset 0, and hands out its sockets. */
function scriptedServer(): { server: ReturnType<typeof Bun.serve>; sockets: ServerWebSocket<unknown>[] } {
  const sockets: ServerWebSocket<unknown>[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("upgrade required", { status: 426 });
    },
    websocket: {
      open(ws) {
        ws.send('{"c":"WSE","t":"server_ready","p":{}}');
      },
      message(ws, message) {
        const type = JSON.parse(String(message)).t;
        if (type === "client_hello") ws.send('{"c":"WSE","t":"server_hello","p":{}}');
        if (type === "subscription_update") {
          ws.send('{"c":"WSE","t":"subscription_update","p":{"success_topics":["fanout"],"recovery":{"fanout":{"offset":0}}}}');
          sockets.push(ws);
        }
      },
    },
  });
  return { server, sockets };
}

test("a gap, a duplicate and a reordering are counted exactly, in separate and coalesced reads", async () => {
  const { server, sockets } = scriptedServer();
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start({ port: server.port!, connections: 2, processes: 1, topics: ["fanout"], topicsPerConnection: 1, maxSeconds: 20, progressMs: 0 });
    expect(fleet.live).toBe(2);
    expect(sockets).toHaveLength(2);
    const phase = await fleet.phase(6, 8000, () => {
      sendScript(sockets[0]!);
      sockets[1]!.cork(() => sendScript(sockets[1]!));
    });
    expect(phase.complete).toBe(true);
    expect(phase.missing).toBe(0);
    // per connection: delivered 1, 2, 4, 5, 8, 9; duplicates 2 (again) and 3 (late); lost 3 and 6, 7
    expect({ deliveries: phase.deliveries, duplicates: phase.duplicates, lost: phase.lost, gaps: phase.gaps }).toEqual({
      deliveries: 12,
      duplicates: 4,
      lost: 6,
      gaps: 4,
    });
    expect(phase.unstamped).toBe(0);
    expect(phase.undecodable).toBe(0);
    // everything but the escaped topic took the byte scanner (the C: frame after inflating)
    expect(phase.parsed).toBe(2);
    expect(phase.latency.count).toBe(12);
  } finally {
    await fleet?.stop();
    server.stop(true);
  }
}, 30_000);

test("publications that never arrive count as missing", async () => {
  const { server, sockets } = scriptedServer();
  let fleet: Fleet | undefined;
  try {
    fleet = await Fleet.start({ port: server.port!, connections: 1, processes: 1, topics: ["fanout"], topicsPerConnection: 1, maxSeconds: 20, progressMs: 0 });
    const phase = await fleet.phase(5, 1500, () => {
      for (const offset of [1, 2, 3]) sockets[0]!.send(publication(offset));
    });
    expect(phase.complete).toBe(false);
    expect(phase.deliveries).toBe(3);
    expect(phase.missing).toBe(2);
  } finally {
    await fleet?.stop();
    server.stop(true);
  }
}, 30_000);
