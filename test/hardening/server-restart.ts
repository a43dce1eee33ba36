/**
 * Server SIGKILL and restart: real clients (`client/mod.ts`) on one topic while a publisher
 * keeps publishing; the server process is killed without warning and started again on the same
 * port, several times. With the memory broker the history is gone, so the stream gets a new
 * epoch: clients must come back by themselves, learn `recovered:false` with the new epoch, and
 * the application must get no duplicate, exactly one announced discontinuity per restart (whose
 * position is exactly where the stream continues), and then every later offset in order.
 *
 * `bun test/hardening/server-restart.ts [--clients 100] [--restarts 5]` runs it as a program;
 * `server-restart.test.ts` is the CI size.
 *
 * @module
 */
import { connect, type WSEClient } from "../../client/mod.ts";
import { HealthProbe, type HardTarget, report, sleep, startHardTarget, waitUntil } from "./kit.ts";
import { StreamLedger, sumChecks } from "./ledger.ts";
import { Publisher } from "./publisher.ts";

/** Options of {@link runServerRestart}. */
export interface ServerRestartOptions {
  clients: number;
  restarts: number;
  /** Publications per second. */
  rate: number;
  /** How long the server stays dead, ms. */
  downMs: number;
}

/** CI size. */
export const CI_SERVER_RESTART: ServerRestartOptions = { clients: 30, restarts: 2, rate: 200, downMs: 500 };

/** Runs the scenario against `target`. */
export async function runServerRestart(target: HardTarget, options: ServerRestartOptions) {
  const topic = `restart.${crypto.randomUUID().slice(0, 8)}`;
  const clients: WSEClient[] = [];
  const ledgers: StreamLedger[] = [];
  const token = await target.mintToken({ sub: "restart" }, { expiresInSeconds: 3600 });
  for (let i = 0; i < options.clients; i++) {
    const client = await connect(target.wsUrl, {
      token,
      topics: [topic],
      reconnect: { baseDelay: 200, maxDelay: 1000 },
      circuitBreaker: { failureThreshold: 1_000 },
      queueSize: 1_000_000,
    });
    clients.push(client);
    ledgers.push(StreamLedger.attach(client));
  }
  const pids: number[] = [target.pid()];
  const backMs: number[] = [];
  const publisher = new Publisher([target], topic, options.rate);
  let pub;
  try {
    for (let r = 0; r < options.restarts; r++) {
      await sleep(1500);
      target.kill("SIGKILL");
      await target.exited();
      await sleep(options.downMs);
      const t0 = performance.now();
      await target.restart();
      pids.push(target.pid());
      await waitUntil(() => clients.every((c) => c.state === "ready"), 30_000, `every client back after restart ${r + 1}`);
      backMs.push(Math.round(performance.now() - t0));
    }
    await sleep(1500);
  } finally {
    pub = await publisher.stop();
  }
  const final = await target.publish(topic, "final", {});
  const caughtUp = await waitUntil(() => ledgers.every((l) => l.last(topic)?.epoch === final.epoch && l.last(topic)?.offset === final.offset), 20_000, "every client at the final position")
    .then(() => true)
    .catch(() => false);
  const checks = ledgers.map((l) => l.check(topic));
  const sum = sumChecks(checks);
  const perClient = checks.map((c) => Object.values(c.discontinuities).reduce((a, b) => a + b, 0));
  const wrongDiscontinuityCount = perClient.filter((n) => n !== options.restarts).length;
  const epochs = new Set(pub.epochs.map((e) => e.epoch)).add(final.epoch).size;
  const health = new HealthProbe(target.httpUrl, 100);
  await sleep(300);
  const healthAfter = await health.stop();
  await Promise.all(clients.map((c) => c.close()));
  const pass = caughtUp && sum.duplicates === 0 && sum.gaps === 0 && wrongDiscontinuityCount === 0 && new Set(pids).size === options.restarts + 1 && epochs === options.restarts + 1 && healthAfter.failures === 0;
  return report("server-restart", pass, {
    clients: options.clients,
    restarts: options.restarts,
    distinctServerPids: new Set(pids).size,
    epochs,
    clientsBackMsAfterRestart: backMs,
    publisher: { published: pub.published + 1, failedWhileDown: pub.failed, ratePerSecond: pub.ratePerSecond },
    finalOffset: final.offset,
    caughtUp,
    delivered: sum.delivered,
    duplicates: sum.duplicates,
    gaps: sum.gaps,
    discontinuities: sum.discontinuities,
    clientsWithWrongDiscontinuityCount: wrongDiscontinuityCount,
    problems: sum.problems,
  });
}

if (import.meta.main) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const target = await startHardTarget({});
  try {
    const result = await runServerRestart(target, { clients: arg("clients", 100), restarts: arg("restarts", 5), rate: arg("rate", 500), downMs: arg("down", 1000) });
    process.exitCode = result.pass ? 0 : 1;
  } finally {
    await target.stop();
  }
}
