/**
 * Process control for the cluster suite: a throwaway redis-server and server nodes started as
 * separate processes with the real CLI (`bun server/main.ts --redis …`), each on a free
 * loopback port (chosen again when it was taken before the node bound it), plus HTTP API helpers.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { listenerIsOurs, startOnFreePort } from "../ports.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUN = process.execPath;
const DENO = `${ROOT}node_modules/.bin/deno`;

/** Which host runs a node: the Bun CLI (`server/main.ts`) or the Deno CLI (`server/deno.ts`). */
export type NodeRuntime = "bun" | "deno";

/** API key every test node is started with. */
export const API_KEY = "cluster-test-api-key";
/** JWT secret every test node is started with (HS256). */
export const JWT_SECRET = "cluster-test-secret-of-at-least-32-bytes!";

/** A server node process. */
export interface ClusterNode {
  /** Node name for messages. */
  name: string;
  /** HTTP base URL. */
  http: string;
  /** WebSocket URL. */
  ws: string;
  /** The process. */
  process: ChildProcess;
  /** Output so far (stdout and stderr). */
  log: () => string;
}

/** Waits for `/health` → 200 from this node's own process (not another server on the port). */
async function waitHealthy(node: ClusterNode, port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${node.name} exited (${child.exitCode}):\n${node.log()}`);
    try {
      const res = await fetch(`${node.http}/health`);
      await res.body?.cancel();
      if (res.status === 200 && listenerIsOurs(child.pid ?? -1, port) !== false) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${node.name} not healthy within ${timeoutMs} ms:\n${node.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts one node with the CLI on a free port, sharing `redisUrl`; resolves once /health is 200.
 * When the port was taken before the node bound it, starts again on another one.
 */
export function startNode(
  name: string,
  redisUrl: string,
  extraArgs: string[] = [],
  runtime: NodeRuntime = "bun",
): Promise<ClusterNode> {
  return startOnFreePort((port) => startNodeOn(port, name, redisUrl, extraArgs, runtime));
}

async function startNodeOn(port: number, name: string, redisUrl: string, extraArgs: string[], runtime: NodeRuntime): Promise<ClusterNode> {
  const flags = [
    "--host", "127.0.0.1", "--port", String(port), "--redis", redisUrl,
    "--api-key", API_KEY, "--jwt-secret", JWT_SECRET, "--log-level", "warn", ...extraArgs,
  ];
  const [command, args] = runtime === "bun"
    ? [BUN, ["server/main.ts", ...flags]]
    : [DENO, ["run", "-A", "server/deno.ts", ...flags]];
  const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env } });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const node: ClusterNode = {
    name,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/wse`,
    process: child,
    log: () => output.slice(-4000),
  };
  try {
    await waitHealthy(node, port, runtime === "deno" ? 60_000 : 15_000, child);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return node;
}

/** Stops a node: SIGTERM (graceful) or SIGKILL (a crash); waits for the exit. */
export async function stopNode(node: ClusterNode, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
  const child = node.process;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** POSTs to a node's API with the key; returns status and JSON body. */
export async function api(node: ClusterNode, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.http}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed };
}

/** Publishes through a node's HTTP API; returns the assigned position. */
export async function publishVia(node: ClusterNode, topic: string, payload: unknown, type = "event"): Promise<{ epoch: string; offset: number }> {
  const { status, body } = await api(node, "/api/publish", { topic, type, payload });
  if (status !== 200) throw new Error(`publish via ${node.name} answered ${status}: ${JSON.stringify(body)}`);
  return { epoch: String(body.epoch), offset: Number(body.offset) };
}

/** A signed HS256 token for `sub` (1 hour). */
export async function tokenFor(sub: string): Promise<string> {
  const { SignJWT } = await import("jose");
  return await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setIssuedAt().setExpirationTime("1h")
    .sign(new TextEncoder().encode(JWT_SECRET));
}

/** Polls `check` every 20 ms until true; throws after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
