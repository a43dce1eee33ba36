import { afterEach, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { freePort, isPortTaken, listenerIsOurs, pidListeningOn, processListensOn, startOnFreePort } from "./ports.ts";

const servers: Server[] = [];
const children: ReturnType<typeof Bun.spawn>[] = [];
const grandchildren: number[] = [];

afterEach(async () => {
  for (const pid of grandchildren.splice(0)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await child.exited;
  }
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      servers.push(server);
      resolve(server);
    });
  });
}

test("a start that loses its port to someone else is retried on another port", async () => {
  const tried: number[] = [];
  const server = await startOnFreePort(async (port) => {
    tried.push(port);
    // the race, made deterministic: someone else binds the port before "our" server does
    if (tried.length === 1) await listen(port);
    return await listen(port);
  });
  expect(tried).toHaveLength(2);
  expect(tried[1]).not.toBe(tried[0]);
  const address = server.address();
  expect(typeof address === "object" && address ? address.port : 0).toBe(tried[1]!);
}, 10_000);

test("other failures are not retried, and retries are bounded", async () => {
  let calls = 0;
  await expect(startOnFreePort(async () => {
    calls++;
    throw new Error("bad config");
  })).rejects.toThrow("bad config");
  expect(calls).toBe(1);
  calls = 0;
  await expect(startOnFreePort(async () => {
    calls++;
    throw new Error("Failed to start server. Is port 1 in use?");
  }, 2)).rejects.toThrow(/in use/);
  expect(calls).toBe(2);
  expect(isPortTaken(Object.assign(new Error("listen EADDRINUSE: address already in use"), { code: "EADDRINUSE" }))).toBe(true);
  expect(isPortTaken("server exited (1): {\"error\":\"Failed to start server. Is port 4 in use?\"}")).toBe(true);
  expect(isPortTaken(new Error("ECONNREFUSED"))).toBe(false);
});

test("the listener check tells our process (and its children) from anyone else", async () => {
  const port = await freePort();
  const script = `Bun.serve({ hostname: "127.0.0.1", port: ${port}, fetch: () => new Response("ok") }); console.log("up"); setTimeout(() => process.exit(0), 20000);`;
  // a wrapper shell that forks the server: the listener is a descendant of the spawned pid
  const child = Bun.spawn(["bash", "-c", `"${process.execPath}" -e '${script}'; true`], { stdout: "pipe", stderr: "inherit" });
  children.push(child);
  const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  expect(new TextDecoder().decode(first.value)).toContain("up");
  const listener = pidListeningOn(port);
  expect(listener).not.toBeNull();
  grandchildren.push(listener!);
  expect(listener).not.toBe(child.pid);
  expect(processListensOn(listener!, port)).toBe(true);
  expect(processListensOn(child.pid, port)).toBe(false);
  expect(listenerIsOurs(child.pid, port)).toBe(true);
  const bystander = Bun.spawn(["sleep", "30"]);
  children.push(bystander);
  expect(listenerIsOurs(bystander.pid, port)).toBe(false);
  const other = await freePort();
  expect(listenerIsOurs(child.pid, other)).toBe(false);
}, 15_000);
