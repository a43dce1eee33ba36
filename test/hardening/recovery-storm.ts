/**
 * Recovery storm: several dozen real clients (`client/mod.ts`) on one topic while a publisher
 * publishes at ~1,000 messages/s; the server kicks them again and again (`POST /api/disconnect`
 * with the slow-consumer, normal, drain and idle codes, half the clients or all of them).
 * Every client reconnects, resubscribes with its position and must recover. Verdict: for every
 * client over every kick, the application saw each offset exactly once and in order (zero gaps,
 * zero duplicates, zero discontinuities), up to the last published offset.
 *
 * `bun test/hardening/recovery-storm.ts [--clients 60] [--kicks 20] [--rate 1000]` runs the full
 * size; `recovery-storm.test.ts` is the CI size.
 *
 * @module
 */
import { connect, type WSEClient } from "../../client/mod.ts";
import { type HardTarget, mib, report, sleep, startHardTarget, waitUntil } from "./kit.ts";
import { StreamLedger, sumChecks } from "./ledger.ts";
import { Publisher } from "./publisher.ts";

/** Options of {@link runRecoveryStorm}. */
export interface RecoveryStormOptions {
  clients: number;
  kicks: number;
  /** Time between kicks, ms. */
  kickIntervalMs: number;
  /** Publications per second. */
  rate: number;
}

/** CI size. */
export const CI_RECOVERY_STORM: RecoveryStormOptions = { clients: 40, kicks: 8, kickIntervalMs: 1200, rate: 1000 };

/** Server settings the storm needs: history deep enough that a kicked client can always recover. */
export const RECOVERY_STORM_SERVER = { historySize: 50_000, recoveryMaxCount: 50_000 } as const;

/** Close codes the kicks use (the HTTP API takes 1000 and 3000–4999): slow consumer, normal, drain, idle. */
const KICK_CODES = [4008, 1000, 4300, 4000] as const;

/** Runs the storm against `target` and returns the verdict with its numbers. */
export async function runRecoveryStorm(target: HardTarget, options: RecoveryStormOptions) {
  const topic = `storm.${crypto.randomUUID().slice(0, 8)}`;
  const users = ["storm-a", "storm-b"];
  const clients: WSEClient[] = [];
  const ledgers: StreamLedger[] = [];
  let errors = 0;
  for (let i = 0; i < options.clients; i++) {
    const client = await connect(target.wsUrl, {
      token: await target.mintToken({ sub: users[i % 2]! }, { expiresInSeconds: 3600 }),
      topics: [topic],
      reconnect: { baseDelay: 100, maxDelay: 1000, jitter: true },
      circuitBreaker: { failureThreshold: 1_000 },
      queueSize: 1_000_000,
    });
    client.onError(() => errors++);
    clients.push(client);
    ledgers.push(StreamLedger.attach(client));
  }
  const rssStart = target.rssKiB();
  const publisher = new Publisher([target], topic, options.rate);
  const kicked: number[] = [];
  let pub: Awaited<ReturnType<Publisher["stop"]>>;
  try {
    for (let k = 0; k < options.kicks; k++) {
      await sleep(options.kickIntervalMs);
      const code = KICK_CODES[k % KICK_CODES.length]!;
      const who = k % 3 === 2 ? users : [users[k % 2]!];
      let n = 0;
      for (const user of who) {
        const res = await target.api("/api/disconnect", { method: "POST", body: JSON.stringify({ user_id: user, code, reason: `storm kick ${k}` }) });
        const body = (await res.json()) as { disconnected?: number };
        if (!res.ok || typeof body.disconnected !== "number") throw new Error(`POST /api/disconnect → ${res.status} ${JSON.stringify(body)}`);
        n += body.disconnected;
      }
      kicked.push(n);
    }
    await sleep(options.kickIntervalMs);
    await waitUntil(() => clients.every((c) => c.state === "ready"), 20_000, "every client ready after the last kick");
  } finally {
    pub = await publisher.stop();
  }
  // The authoritative end of the stream: one more publication after the publisher stopped.
  const final = await target.publish(topic, "final", {});
  const caughtUp = await waitUntil(() => ledgers.every((l) => l.last(topic)?.offset === final.offset), 30_000, "every client at the final offset")
    .then(() => true)
    .catch(() => false);
  const checks = ledgers.map((l) => l.check(topic));
  const sum = sumChecks(checks);
  const incomplete = checks.filter((c) => c.delivered !== final.offset + 1).length;
  const rssEnd = target.rssKiB();
  await Promise.all(clients.map((c) => c.close()));
  const pass = caughtUp && sum.duplicates === 0 && sum.gaps === 0 && Object.keys(sum.discontinuities).length === 0 && incomplete === 0 && pub.failed === 0;
  return report("recovery-storm", pass, {
    clients: options.clients,
    kicks: options.kicks,
    disconnectedPerKick: kicked,
    targetRate: options.rate,
    publisher: { published: pub.published + 1, failed: pub.failed, ratePerSecond: pub.ratePerSecond, durationMs: pub.durationMs },
    finalOffset: final.offset,
    caughtUp,
    incompleteClients: incomplete,
    deliveredTotal: sum.delivered,
    duplicates: sum.duplicates,
    gaps: sum.gaps,
    discontinuities: sum.discontinuities,
    recoveryEvents: sum.recoveries,
    clientErrorsReported: errors,
    problems: sum.problems,
    serverRssMiB: { start: mib(rssStart), end: mib(rssEnd) },
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({ ...RECOVERY_STORM_SERVER });
  try {
    const result = await runRecoveryStorm(target, { clients: arg("clients", 60), kicks: arg("kicks", 20), kickIntervalMs: arg("interval", 1000), rate: arg("rate", 1000) });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
