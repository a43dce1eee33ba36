/**
 * Client end-to-end scenarios shared by the Deno (`*.deno-test.ts`) and Node (`*.node-test.ts`)
 * runners: the same checks as the Bun suite's core cases, written with `node:assert` only.
 *
 * @module
 */
import assert from "node:assert/strict";
import { connect, WSEAuthError, type WSEClient, type WSEEvent } from "../../client/mod.ts";
import { API_KEY, mintToken, publish, type ServerProcess, startServer, streamProblems, waitFor } from "./support.ts";

function collect(client: WSEClient): WSEEvent[] {
  const events: WSEEvent[] = [];
  client.onAny((e) => events.push(e));
  return events;
}

/** Handshake with encryption and zstd on, ordered events, `for await`, close. */
export async function encryptedStream(server: ServerProcess): Promise<void> {
  const client = await connect(server.url, { token: await mintToken("alice"), topics: ["rt.secure"], encryption: true, zstd: true });
  try {
    assert.equal(client.state, "ready");
    assert.equal(client.encrypted, true);
    const big = "y".repeat(4000);
    for (let i = 0; i < 5; i++) await publish(server, "rt.secure", "n", { i, big });
    const seen: number[] = [];
    for await (const event of client) {
      assert.equal(event.topic, "rt.secure");
      assert.equal(event.payload.big, big);
      seen.push(event.payload.i as number);
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    assert.equal(client.getStats().encryption.enabled, true);
    const ack = await client.publish("rt.secure", "note", { ok: true });
    const echoed = await client.recv({ timeout: 3000 });
    assert.equal(echoed.offset, ack.offset);
  } finally {
    await client.close();
  }
  assert.equal(client.state, "closed");
}

/** A bad token is final. */
export async function badToken(server: ServerProcess): Promise<void> {
  const error = await connect(server.url, { token: "garbage" }).catch((e) => e);
  assert.ok(error instanceof WSEAuthError, `expected WSEAuthError, got ${error}`);
  assert.equal(error.closeCode, 4401);
}

/** The server drops the socket while staying up: recovered:true, no gap, no duplicate. */
export async function dropAndRecover(server: ServerProcess): Promise<void> {
  const client = await connect(server.url, { token: await mintToken("alice"), topics: ["rt.drop"], reconnect: { baseDelay: 100, jitter: false } });
  try {
    const events = collect(client);
    const data = () => events.filter((e) => e.topic === "rt.drop" && e.category === "U");
    for (let i = 0; i < 5; i++) await publish(server, "rt.drop", "n", { i });
    await waitFor(() => data().length === 5, 5000, "first events");
    const res = await fetch(`${server.http}/api/disconnect`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ connection_id: client.connectionId, code: 4300 }),
    });
    assert.equal(res.status, 200, await res.text());
    await waitFor(() => client.state !== "ready", 3000, "the drop");
    for (let i = 5; i < 10; i++) await publish(server, "rt.drop", "n", { i });
    await waitFor(() => data().length === 10, 8000, "the replay");
    assert.deepEqual(data().map((e) => e.payload.i), [...Array(10).keys()]);
    assert.deepEqual(streamProblems(events, "rt.drop"), []);
    const recovery = events.find((e) => e.type === "recovery");
    assert.deepEqual(recovery?.payload, { topic: "rt.drop", recovered: true, count: 5 });
    assert.equal(events.some((e) => e.type === "discontinuity"), false);
  } finally {
    await client.close();
  }
}

/** SIGKILL the server mid-stream, restart it on the same port: one discontinuity, no duplicates. */
export async function killAndRestart(): Promise<void> {
  const first = await startServer();
  let second: ServerProcess | undefined;
  const client = await connect(first.url, { token: await mintToken("alice"), topics: ["rt.restart"], reconnect: { baseDelay: 300, maxDelay: 1000, jitter: false } });
  try {
    const events = collect(client);
    const run = (n: number) => events.filter((e) => e.payload.run === n);
    const publisher = (async () => {
      for (let i = 0; i < 8; i++) await publish(first, "rt.restart", "n", { i, run: 1 });
    })();
    await publisher;
    await waitFor(() => run(1).length === 8, 5000, "run 1");
    await first.kill("SIGKILL");
    await waitFor(() => client.state === "reconnecting", 5000, "reconnecting");
    second = await startServer({ port: first.port });
    await waitFor(() => client.state === "ready", 15_000, "ready again");
    for (let i = 0; i < 8; i++) await publish(second, "rt.restart", "n", { i, run: 2 });
    await waitFor(() => run(2).length === 8, 5000, "run 2");
    assert.deepEqual(streamProblems(events, "rt.restart"), []);
    const gaps = events.filter((e) => e.type === "discontinuity");
    assert.equal(gaps.length, 1);
    assert.equal((gaps[0].payload.previous as { offset: number }).offset, 7);
    assert.ok(events.indexOf(gaps[0]) < events.indexOf(run(2)[0]));
  } finally {
    await client.close();
    await first.kill();
    await second?.kill();
  }
}
