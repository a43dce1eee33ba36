/**
 * Connections: how fast each system accepts JWT-authenticated connections (TCP + upgrade +
 * HS256 check + WSE handshake + one subscribe, 200 in flight), how much resident memory an
 * idle connection costs (server RSS growth ÷ connections, on top of 200 warm-up connections that
 * stay open so one-time allocations and lazily returned memory do not count), and what a
 * heartbeat costs (server CPU time per client ping → PONG).
 *
 * The file-descriptor limit is raised with `ulimit -n` for the children where the hard limit
 * allows; counts the machine cannot hold are skipped with the reason printed. Beyond ~25,000
 * connections the connections are spread over 127.0.0.1–127.0.0.4 (server bound to 0.0.0.0)
 * so that ephemeral ports do not run out.
 *
 * @module
 */
import { Fleet } from "../lib/fleet.ts";
import { cpuPreciseMs, rssBytes } from "../lib/procs.ts";
import { type BenchContext, int, type Scenario, type ScenarioReport } from "../lib/scenario.ts";
import { type SystemName, startSystem, unavailableReason } from "../lib/systems.ts";

const SYSTEMS: SystemName[] = ["bare-bun", "ours", "upstream"];
/** Server ping interval during this scenario (1 s, so that a few seconds show the ping cost). */
const SERVER_PING_MS = 1000;
/** File descriptors the server holds per connection (measured: upstream keeps two per socket). */
const FDS_PER_CONNECTION: Partial<Record<SystemName, number>> = { upstream: 2 };
/** Connections opened first and kept open, so the measured ones land on a warm server. */
const WARM_CONNECTIONS = 200;

/** Memory at one connection count. */
export interface MemoryPoint {
  connections: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  bytesPerConnection: number;
  connectionsPerSec: number;
  setupMs: number;
  /** Connection attempts the server dropped that the generator retried. */
  retries?: number;
  heartbeat?: { pings: number; pongs: number; cpuMs: number; usPerPing: number; wallMs: number };
  /**
   * Server-initiated pings every second for a few seconds: server CPU per ping (incl. the PONG
   * it gets back), after subtracting the idle CPU measured before the connections were opened.
   */
  serverPing?: { seconds: number; cpuMs: number; usPerPing: number; cpuPercentAt25s: number };
  error?: string;
}

function hardFdLimit(): number {
  const out = Bun.spawnSync(["bash", "-c", "ulimit -Hn"]).stdout.toString().trim();
  return out === "unlimited" ? Infinity : Number(out) || 1024;
}

function softFdLimit(): number {
  const out = Bun.spawnSync(["bash", "-c", "ulimit -Sn"]).stdout.toString().trim();
  return out === "unlimited" ? Infinity : Number(out) || 1024;
}

/** RSS once it stops moving: polls every 250 ms until two readings agree within 0.5 % (bounded). */
async function settledRss(pid: number, maxMs: number): Promise<number> {
  let previous = rssBytes(pid);
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    await Bun.sleep(250);
    const current = rssBytes(pid);
    if (Math.abs(current - previous) <= previous * 0.005) return current;
    previous = current;
  }
  return previous;
}

/** Connection counts per mode: the memory target is stated at 10,000 and 50,000; quick adds 2,000 for a cheap trend point. */
function counts(ctx: BenchContext): number[] {
  if (ctx.tiny) return [50];
  return ctx.mode === "quick" ? [2000, 10_000] : [10_000, 50_000];
}

async function measureAt(ctx: BenchContext, name: SystemName, connections: number): Promise<MemoryPoint> {
  const spread = connections > 25_000;
  const sys = await startSystem(name, {
    jwtSecret: ctx.secret,
    host: spread ? "0.0.0.0" : "127.0.0.1",
    fdLimit: (connections + WARM_CONNECTIONS) * (FDS_PER_CONNECTION[name] ?? 1) + 2000,
    pingMs: SERVER_PING_MS,
  });
  const hosts = spread ? ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"] : ["127.0.0.1"];
  const point: MemoryPoint = { connections, rssBeforeBytes: 0, rssAfterBytes: 0, bytesPerConnection: NaN, connectionsPerSec: NaN, setupMs: 0 };
  let fleet: Fleet | undefined;
  let warm: Fleet | undefined;
  try {
    warm = await Fleet.start({ port: sys.port, indexBase: 1_000_000, connections: WARM_CONNECTIONS, processes: 1, topics: ["idle"], topicsPerConnection: 1, jwtSecret: ctx.secret, maxSeconds: 600, progressMs: 0 });
    await Bun.sleep(1000);
    point.rssBeforeBytes = await settledRss(sys.server.pid, 6000);
    const baselineCpu = cpuPreciseMs(sys.server.pid);
    await Bun.sleep(1000);
    const idleCpuPerSec = cpuPreciseMs(sys.server.pid) - baselineCpu;
    const processes = Math.max(2, Math.ceil(connections / 15_000));
    fleet = await Fleet.start({
      port: sys.port,
      hosts,
      connections,
      processes,
      topics: ["idle"],
      topicsPerConnection: 1,
      jwtSecret: ctx.secret,
      concurrency: 100,
      maxSeconds: 600,
      readyTimeoutMs: 300_000,
      onProgress: ctx.progress,
      fdLimit: Math.ceil(connections / processes) + 2000,
    });
    point.setupMs = fleet.connectMs;
    point.retries = fleet.retries;
    if (fleet.retries > 0) ctx.log(`    ${fleet.retries} connection attempts were refused and retried (first error: ${fleet.firstError})`);
    point.connectionsPerSec = (fleet.live / fleet.connectMs) * 1000;
    if (fleet.failures > 0) throw new Error(`${fleet.failures} of ${connections} connections failed: ${fleet.firstError}`);
    await Bun.sleep(ctx.tiny ? 500 : 1500);
    point.rssAfterBytes = await settledRss(sys.server.pid, 6000);
    point.bytesPerConnection = (point.rssAfterBytes - point.rssBeforeBytes) / connections;
    ctx.log(
      `    ${int(point.connectionsPerSec)} connections/s; RSS ${(point.rssBeforeBytes / 2 ** 20).toFixed(1)} → ${(point.rssAfterBytes / 2 ** 20).toFixed(1)} MiB = ${(point.bytesPerConnection / 1024).toFixed(2)} KB per idle connection`,
    );
    const cpuBefore = cpuPreciseMs(sys.server.pid);
    const beat = await fleet.heartbeat(ctx.tiny ? 1 : 5, 60_000);
    const cpu = cpuPreciseMs(sys.server.pid) - cpuBefore;
    point.heartbeat = { pings: beat.pings, pongs: beat.pongs, cpuMs: cpu, usPerPing: beat.pongs ? (cpu * 1000) / beat.pongs : NaN, wallMs: beat.ms };
    ctx.log(`    heartbeat: ${beat.pongs}/${beat.pings} PONGs, server CPU ${cpu.toFixed(0)} ms → ${point.heartbeat.usPerPing.toFixed(1)} µs per ping`);
    if (name !== "bare-bun") {
      const seconds = ctx.tiny ? 1 : 3;
      const idleBefore = cpuPreciseMs(sys.server.pid);
      await Bun.sleep(seconds * 1000);
      const idleCpu = Math.max(0, cpuPreciseMs(sys.server.pid) - idleBefore - idleCpuPerSec * seconds);
      const pings = (connections + WARM_CONNECTIONS) * seconds * (1000 / SERVER_PING_MS);
      const usPerPing = (idleCpu * 1000) / pings;
      point.serverPing = { seconds, cpuMs: idleCpu, usPerPing, cpuPercentAt25s: ((connections / 25) * usPerPing) / 10_000 };
      ctx.log(
        `    server pings (1 s interval): ${idleCpu.toFixed(0)} ms CPU in ${seconds} s → ${usPerPing.toFixed(1)} µs per ping; at the default 25 s: ${point.serverPing.cpuPercentAt25s.toFixed(3)} % of a core`,
      );
    }
  } catch (error) {
    point.error = (error as Error).message;
    ctx.log(`    failed: ${point.error}`);
  } finally {
    await fleet?.stop();
    await warm?.stop();
    await sys.stop();
  }
  return point;
}

/** The connections scenario. */
export const scenario: Scenario = {
  name: "connections",
  title: "Connections: JWT connection rate, memory per idle connection, heartbeat cost",
  async run(ctx): Promise<ScenarioReport> {
    const hard = hardFdLimit();
    const soft = softFdLimit();
    const notes: string[] = [`file-descriptor limit: soft ${soft}, hard ${hard}`];
    const results: Record<string, { memory: MemoryPoint[] } | { skipped: string }> = {};
    for (const name of SYSTEMS) {
      if (ctx.systems && !ctx.systems.includes(name)) continue;
      const reason = unavailableReason(name);
      if (reason) {
        results[name] = { skipped: reason };
        continue;
      }
      const memory: MemoryPoint[] = [];
      for (const n of counts(ctx)) {
        const perConnection = FDS_PER_CONNECTION[name] ?? 1;
        const needed = (n + WARM_CONNECTIONS) * perConnection + 100;
        if (needed > hard) {
          const why = `${name}: ${n.toLocaleString("en-US")} connections need about ${needed} file descriptors in the server (${perConnection} per connection); the hard limit here is ${hard} (ulimit -n cannot go above it)`;
          if (!notes.includes(why)) notes.push(why);
          ctx.log(`  ${name}, ${n} connections: skipped (${why})`);
          continue;
        }
        ctx.log(`  ${name}, ${n.toLocaleString("en-US")} idle connections`);
        memory.push(await measureAt(ctx, name, n));
      }
      results[name] = { memory };
    }
    const rows: (string | number)[][] = [];
    for (const [name, r] of Object.entries(results)) {
      if ("skipped" in r) {
        rows.push([name, "", `skipped: ${r.skipped}`, "", "", "", ""]);
        continue;
      }
      for (const m of r.memory) {
        rows.push([
          name,
          int(m.connections),
          m.error ? `error: ${m.error}` : `${int(m.connectionsPerSec)}${m.retries ? ` (${m.retries} retried)` : ""}`,
          Number.isFinite(m.bytesPerConnection) ? `${(m.bytesPerConnection / 1024).toFixed(2)}` : "–",
          `${(m.rssAfterBytes / 2 ** 20).toFixed(1)}`,
          m.heartbeat ? m.heartbeat.usPerPing.toFixed(1) : "–",
          m.serverPing ? `${m.serverPing.usPerPing.toFixed(1)} (${m.serverPing.cpuPercentAt25s.toFixed(3)} %)` : "n/a",
        ]);
      }
    }
    return {
      name: "connections",
      title: this.title,
      tables: [
        {
          title: "Connection setup with JWT (HS256) and one subscribe; RSS growth per idle connection; server CPU per ping/PONG",
          columns: ["system", "connections", "connections/s", "KB per idle conn", "server RSS MiB", "µs CPU per client ping", "µs CPU per server ping (core % at 25 s)"],
          rows,
        },
      ],
      data: { fdLimit: { soft, hard }, results },
      notes,
    };
  },
};
