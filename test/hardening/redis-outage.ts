/**
 * Redis down and back: two server nodes share one Redis (`WSE_REDIS_URL`), real clients
 * (`client/mod.ts`) on both subscribe to one topic, and a publisher alternates between the
 * nodes. Redis is then (1) frozen with SIGSTOP (a hung Redis: its data survives) and resumed,
 * longer than the broker's command timeout, and (2) killed and restarted empty (its history is gone: a new epoch). Verdict: both nodes
 * report `/health` 503 while Redis is unusable and 200 again afterwards, publishes fail cleanly
 * (counted, never hang the publisher) and succeed again, no client ever sees a duplicate or an
 * unannounced jump, the hang costs no discontinuity, the restart costs at most one announced
 * discontinuity per client, and every client on both nodes reaches the final publication.
 *
 * `bun test/hardening/redis-outage.ts [--clients 50] [--outage 8000]` runs it as a program;
 * `redis-outage.test.ts` is the CI size.
 *
 * @module
 */
import { connect, type WSEClient } from "../../client/mod.ts";
import { randomSecret } from "../conformance/target.ts";
import { type RedisTestServer, startRedisServer } from "../../scripts/redis-test-server.ts";
import { HealthProbe, type HardTarget, report, sleep, startHardTarget, waitUntil } from "./kit.ts";
import { StreamLedger, sumChecks } from "./ledger.ts";
import { Publisher } from "./publisher.ts";

/** Options of {@link runRedisOutage}. */
export interface RedisOutageOptions {
  /** Clients per node. */
  clientsPerNode: number;
  /** How long Redis stays killed, ms. */
  outageMs: number;
  /** How long Redis stays frozen, ms (longer than the broker's 5 s command timeout, or nothing can notice). */
  pauseMs: number;
  /** Publications per second (alternating nodes). */
  rate: number;
}

/** CI size. */
export const CI_REDIS_OUTAGE: RedisOutageOptions = { clientsPerNode: 10, outageMs: 3000, pauseMs: 7000, rate: 100 };

/** Two nodes on one fresh Redis. */
export async function startRedisPair(): Promise<{ redis: RedisTestServer; nodes: HardTarget[]; stop: () => Promise<void> }> {
  const redis = await startRedisServer();
  const jwtSecret = randomSecret();
  const nodes = await Promise.all([0, 1].map(() => startHardTarget({ jwtSecret, historySize: 50_000, recoveryMaxCount: 50_000, extraEnv: { WSE_REDIS_URL: redis.url } })));
  return {
    redis,
    nodes,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
      await redis.stop();
    },
  };
}

async function healthStatus(node: HardTarget): Promise<number> {
  try {
    const res = await fetch(`${node.httpUrl}/health`, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Runs the scenario on a pair from {@link startRedisPair}. */
export async function runRedisOutage(redis: RedisTestServer, nodes: HardTarget[], options: RedisOutageOptions) {
  const topic = `redis-outage.${crypto.randomUUID().slice(0, 8)}`;
  const clients: WSEClient[] = [];
  const ledgers: StreamLedger[] = [];
  for (const node of nodes) {
    const token = await node.mintToken({ sub: "redis-outage" }, { expiresInSeconds: 3600 });
    for (let i = 0; i < options.clientsPerNode; i++) {
      const client = await connect(node.wsUrl, { token, topics: [topic], reconnect: { baseDelay: 200, maxDelay: 1000 }, circuitBreaker: { failureThreshold: 1_000 }, queueSize: 1_000_000 });
      clients.push(client);
      ledgers.push(StreamLedger.attach(client));
    }
  }
  const probes = nodes.map((n) => new HealthProbe(n.httpUrl, 100, 3000));
  const publisher = new Publisher(nodes, topic, options.rate);
  const phases: Record<string, unknown> = {};
  let pub;
  try {
    await sleep(1500);
    // 1. A hung Redis.
    let before = publisher.published;
    redis.pause();
    // A hang is noticed when a command times out (the broker's 5 s): give each node one now.
    const probesDuringPause = nodes.map((n) => n.publish(topic, "during-pause", {}).then(() => "ok", () => "failed"));
    const pausedAt = Date.now();
    const statusesWhilePaused: number[][] = nodes.map(() => []);
    await sleep(5500);
    while (Date.now() - pausedAt < options.pauseMs) {
      const now = await Promise.all(nodes.map(healthStatus));
      now.forEach((st, i) => statusesWhilePaused[i]!.push(st));
      await sleep(250);
    }
    // Each node must have noticed the hang (the dedicated test checks it stays noticed).
    const whilePaused = statusesWhilePaused.map((list) => (list.includes(503) ? 503 : (list[0] ?? 0)));
    const publishedWhilePaused = publisher.published - before;
    redis.resume();
    const t1 = performance.now();
    const recovered1 = await Promise.all(nodes.map((n) => pollHealthy(n, 20_000)));
    phases.pause = { healthWhilePaused: whilePaused, healthSamplesWhilePaused: statusesWhilePaused.map((l) => summarize(l)), publishedWhilePaused, publishesIssuedAtPause: await Promise.all(probesDuringPause), healthyAgainMs: Math.round(performance.now() - t1), healthyAgain: recovered1 };
    await sleep(1500);
    // 2. Redis killed and restarted empty.
    await redis.kill();
    await sleep(300); // publishes in flight at the kill settle first
    before = publisher.published;
    await sleep(options.outageMs - 300);
    const whileDown = await Promise.all(nodes.map(healthStatus));
    const publishedWhileDown = publisher.published - before;
    await redis.start();
    const t2 = performance.now();
    const recovered2 = await Promise.all(nodes.map((n) => pollHealthy(n, 30_000)));
    phases.restart = { healthWhileDown: whileDown, publishedWhileDown, healthyAgainMs: Math.round(performance.now() - t2), healthyAgain: recovered2 };
    await sleep(2000);
  } finally {
    pub = await publisher.stop();
  }
  const final = await nodes[0]!.publish(topic, "final", {});
  const caughtUp = await waitUntil(() => ledgers.every((l) => l.last(topic)?.epoch === final.epoch && l.last(topic)?.offset === final.offset), 20_000, "every client at the final position")
    .then(() => true)
    .catch(() => false);
  const health = await Promise.all(probes.map((p) => p.stop()));
  const checks = ledgers.map((l) => l.check(topic));
  const sum = sumChecks(checks);
  const maxDiscontinuities = Math.max(0, ...checks.map((c) => Object.values(c.discontinuities).reduce((a, b) => a + b, 0)));
  await Promise.all(clients.map((c) => c.close()));
  const pause = phases.pause as { healthWhilePaused: number[]; healthyAgain: boolean[] };
  const restart = phases.restart as { healthWhileDown: number[]; healthyAgain: boolean[]; publishedWhileDown: number };
  const pass =
    caughtUp &&
    sum.duplicates === 0 &&
    sum.gaps === 0 &&
    maxDiscontinuities <= 1 &&
    pause.healthWhilePaused.every((s) => s === 503) &&
    restart.healthWhileDown.every((s) => s === 503) &&
    pause.healthyAgain.every(Boolean) &&
    restart.healthyAgain.every(Boolean) &&
    restart.publishedWhileDown === 0 &&
    pub.failed > 0 &&
    health.every((h) => h.failures === 0);
  return report("redis-outage", pass, {
    clients: clients.length,
    outageMs: options.outageMs,
    pauseMs: options.pauseMs,
    phases,
    publisher: { published: pub.published + 1, failed: pub.failed, ratePerSecond: pub.ratePerSecond, epochs: pub.epochs.length },
    final,
    caughtUp,
    delivered: sum.delivered,
    duplicates: sum.duplicates,
    gaps: sum.gaps,
    discontinuities: sum.discontinuities,
    maxDiscontinuitiesPerClient: maxDiscontinuities,
    recoveryEvents: sum.recoveries,
    // A publish that timed out (503) while Redis hung can still be applied once Redis resumes.
    timedOutPublishesDeliveredAnyway: ledgers[0]!.events.filter((e) => e.type === "during-pause").length,
    problems: sum.problems,
    healthProbes: health.map((h) => ({ n: h.n, failures: h.failures, statuses: h.statuses, max: h.max })),
  });
}

function summarize(list: number[]): string {
  return list.map((st) => (st === 503 ? "x" : st === 200 ? "." : "?")).join("");
}

/**
 * Freezes Redis for `pauseMs` and samples both nodes' `/health` every 250 ms from 0.5 s after
 * the first command timeout (the broker's 5 s) to the end; returns the samples per node.
 */
export async function healthDuringHang(redis: RedisTestServer, nodes: HardTarget[], pauseMs: number): Promise<number[][]> {
  redis.pause();
  const started = Date.now();
  const samples: number[][] = nodes.map(() => []);
  try {
    const timedOut = nodes.map((n) => n.publish(`hang.${crypto.randomUUID().slice(0, 6)}`, "probe", {}).catch(() => undefined));
    await Promise.all(timedOut);
    await sleep(500);
    while (Date.now() - started < pauseMs) {
      const now = await Promise.all(nodes.map(healthStatus));
      now.forEach((st, i) => samples[i]!.push(st));
      await sleep(250);
    }
  } finally {
    redis.resume();
  }
  return samples;
}

async function pollHealthy(node: HardTarget, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await healthStatus(node)) === 200) return true;
    await sleep(100);
  }
  return false;
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const pair = await startRedisPair();
  try {
    const result = await runRedisOutage(pair.redis, pair.nodes, { clientsPerNode: arg("clients", 50), outageMs: arg("outage", 8000), pauseMs: arg("pause", 10_000), rate: arg("rate", 300) });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await pair.stop();
  }
}
