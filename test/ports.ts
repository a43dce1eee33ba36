/**
 * Loopback ports for test servers: choose a free one, start a server on it again on a new port
 * when it was taken between choosing and binding (another suite, or an outgoing connection's
 * source port), and tell whether the process we started is the one listening (so a `/health`
 * answer from someone else's server on the same port is not mistaken for ours). Linux `/proc`
 * based; where `/proc` is not readable the listener check answers "unknown" (null).
 *
 * @example
 * ```ts
 * import { startOnFreePort } from "../ports.ts";
 * const server = await startOnFreePort((port) => spawnMyServer(port));
 * ```
 * @module
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer } from "node:net";

/** A TCP port that is free on `host` (default 127.0.0.1) right now. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === "object" && address ? address.port : 0;
      probe.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** True when an error (or a server's output inside its message) says the port was already in use. */
export function isPortTaken(error: unknown): boolean {
  return /in use|EADDRINUSE/i.test(String((error as Error)?.message ?? error));
}

/**
 * Runs `start(port)` on a free port; when it fails because the port was taken before the server
 * bound it, chooses another port and starts again (up to `attempts` tries, default 3). Any other
 * failure is thrown at once.
 */
export async function startOnFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (error) {
      if (attempt >= attempts || !isPortTaken(error)) throw error;
    }
  }
}

/** Socket inodes listening on `port` (IPv4 and IPv6); null when `/proc/net` is not readable. */
function listeningInodes(port: number): Set<string> | null {
  const inodes = new Set<string>();
  let readable = false;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    readable = true;
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1]!.split(":")[1]!, 16);
      if (localPort === port && cols[3] === "0A") inodes.add(cols[9]!);
    }
  }
  return readable ? inodes : null;
}

/** Socket inodes a process holds (empty when its fds cannot be read). */
function socketInodesOf(pid: number): string[] {
  const out: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.push(m[1]!);
    } catch {
      // fd closed meanwhile
    }
  }
  return out;
}

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}

/** True when process `pid` holds a listening socket on `port`; null when `/proc` cannot tell. */
export function processListensOn(pid: number, port: number): boolean | null {
  const inodes = listeningInodes(port);
  if (inodes === null) return null;
  return inodes.size > 0 && socketInodesOf(pid).some((inode) => inodes.has(inode));
}

/** The pid of the process that holds the listening socket on `port` (own processes only), or null. */
export function pidListeningOn(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes === null || inodes.size === 0) return null;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    if (socketInodesOf(pid).some((inode) => inodes.has(inode))) return pid;
  }
  return null;
}

/**
 * Whether the listener on `port` belongs to process `rootPid` or one of its descendants (a
 * wrapper that execs or forks the server): true/false, or null when `/proc` cannot tell.
 */
export function listenerIsOurs(rootPid: number, port: number): boolean | null {
  const direct = processListensOn(rootPid, port);
  if (direct !== false) return direct;
  const listener = pidListeningOn(port);
  if (listener === null) return false;
  for (let pid = listener, depth = 0; pid > 1 && depth < 16; pid = parentOf(pid), depth++) if (pid === rootPid) return true;
  return false;
}
