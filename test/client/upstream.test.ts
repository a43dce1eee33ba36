/**
 * Our client against the upstream WSE 2.5.1 server (the PyPI `wse-server` wheel, hosted by
 * `test/interop/upstream_server.py`, which `scripts/setup-python.sh` installs into `.venv`):
 * handshake, E2E encryption, ordered events, and a dropped socket recovered from history.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { connect, type WSEEvent } from "../../client/mod.ts";
import { API_KEY, mintToken, ROOT, SECRET, streamProblems, waitFor } from "./support.ts";

const PYTHON = join(ROOT, ".venv/bin/python");
const HAVE_UPSTREAM =
  existsSync(PYTHON) && Bun.spawnSync([PYTHON, "-c", "import wse_server"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
if (!HAVE_UPSTREAM) console.warn("upstream.test.ts: .venv with wse-server missing (run scripts/setup-python.sh); these tests are skipped");

let proc: ReturnType<typeof Bun.spawn> | undefined;
let info: { ws_url: string; http_url: string };

async function publish(topic: string, payload: Record<string, unknown>): Promise<{ epoch: string; offset: number }> {
  const res = await fetch(`${info.http_url}/api/publish`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ topic, type: "n", payload }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

beforeAll(async () => {
  if (!HAVE_UPSTREAM) return;
  proc = Bun.spawn([PYTHON, "test/interop/upstream_server.py", "--jwt-secret", SECRET, "--api-key", API_KEY, "--exit-on-stdin-eof"], {
    cwd: ROOT,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "ignore",
  });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  const deadline = Date.now() + 20_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  info = JSON.parse(text.split("\n")[0]);
}, 30_000);

afterAll(async () => {
  if (!proc) return;
  (proc.stdin as { end(): void }).end();
  proc.kill();
  await proc.exited;
});

describe.skipIf(!HAVE_UPSTREAM)("client against the upstream WSE 2.5.1 server", () => {
  test("handshake and ordered events, plaintext and end-to-end encrypted", async () => {
    for (const encryption of [false, true]) {
      const topic = `up.basic.${encryption}`;
      await using client = await connect(info.ws_url, { token: await mintToken("alice"), topics: [topic], encryption });
      expect(client.state).toBe("ready");
      expect(client.encrypted).toBe(encryption);
      expect(client.recoveryEnabled).toBe(true);
      const positions = [];
      for (let i = 0; i < 4; i++) positions.push(await publish(topic, { i }));
      for (let i = 0; i < 4; i++) {
        const event = await client.recv({ timeout: 5000 });
        expect(event).toMatchObject({ type: "n", topic, payload: { i }, epoch: positions[i].epoch, offset: positions[i].offset });
      }
    }
  }, 30_000);

  test("socket dropped by the server: reconnect, recovered:true, no gap, no duplicate", async () => {
    await using client = await connect(info.ws_url, { token: await mintToken("bob"), topics: ["up.drop"], reconnect: { baseDelay: 100, jitter: false } });
    const events: WSEEvent[] = [];
    client.onAny((e) => events.push(e));
    const data = () => events.filter((e) => e.topic === "up.drop" && e.category !== "client");
    for (let i = 0; i < 4; i++) await publish("up.drop", { i });
    await waitFor(() => data().length === 4, 5000, "first events");
    const res = await fetch(`${info.http_url}/api/disconnect`, {
      method: "POST",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ connection_id: client.connectionId }),
    });
    expect(res.status).toBe(200);
    await waitFor(() => client.state !== "ready", 5000, "the drop");
    for (let i = 4; i < 8; i++) await publish("up.drop", { i });
    await waitFor(() => data().length === 8, 10_000, "the replay");
    expect(data().map((e) => e.payload.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(streamProblems(events, "up.drop")).toEqual([]);
    expect(events.some((e) => e.type === "discontinuity")).toBe(false);
    expect(events.find((e) => e.type === "recovery")?.payload).toMatchObject({ topic: "up.drop", recovered: true });
  }, 30_000);
});
